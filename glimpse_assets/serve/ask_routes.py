"""`GET /ask?q=...`: a question answered from the search index, with its citations.

The answer is made by the code that answers a text message (`sms.answering.Answerer`: the top
hits of the index, `sms.answers.answer_request` through the text provider's `complete`, the
extractive answer from the best hit when the model is not done by the deadline), so the two
channels cannot drift apart. What differs is around it:

* **The text** is the one an SMS would carry: at most 320 characters (`MAX_REPLY_CHARS`),
  ending with the title and day of the article it names. HTTP could carry more, but a longer
  answer would be another prompt and another shaping, i.e. another answering code; what HTTP
  adds instead is the **citations** as data: the hits the answer was made from (those the model
  read, or the best one for the extractive answer), each with its chunk id, title, day and url,
  and `cited` for the article the text names (listed first).
* **No history.** A caller has no conversation (the SMS follow-ups come from a sender's memory);
  each question is answered from its own hits.
* **The bound**: `GLIMPSE_ASK_SECONDS` (10 s, `ServeSettings`) after the request arrived, the
  answer goes: the model's, or else the extractive one (`method` says which, and why), and a
  model call still running is left to finish (its answer cached in memory: asked again, the
  question gets it).
  The search itself must be done by then too: else 503 with `Retry-After`. The work runs on
  threads of this route's own (`ASK_WORKERS`), awaited on the event loop, so slow models hold
  none of the threads `/search` uses.
* **No index yet** is 503 with a one-line reason. `/search` answers `index: "empty"` with 200
  because no hits is a true result of a search; a question has no true answer then, and the
  condition is the service's (it passes when the search chain has run), not the request's,
  so not 404 either (the route exists). Nothing found in an index that has rows (unlikely:
  the nearest chunks are always found) is 200 with `method` `nothing found`.
* **The question stays out of the logs**: uvicorn's access log line has its query string
  replaced (`serve.access_log`, for every route); no other line holds it, and a 422 names the
  problem, never the value (`serve.errors`). Model calls are costed against the shared daily
  budget; their cache is in memory only (`sms.answering.without_stored_questions`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from glimpse_assets.serve.errors import ErrorDetail
from glimpse_assets.serve.search_routes import (
    MAX_QUERY_CHARS,
    RETRY_AFTER_SECONDS,
    SearchUnavailableError,
)
from glimpse_assets.sms.answer_log import ASK as ASK_CHANNEL
from glimpse_assets.sms.answer_log import AnswerLog
from glimpse_assets.sms.answering import (
    EXTRACTIVE,
    MODEL,
    MODEL_FAILED,
    MODEL_TOO_SLOW,
    NO_INDEX,
    SEARCH_TOO_SLOW,
    Answer,
    Answerer,
    Searcher,
    citations,
    without_stored_questions,
)
from glimpse_assets.sms.answers import EXTRACTIVE_MODEL, MAX_REPLY_CHARS
from glimpse_assets.sms.deadline import ThreadWaiter

log = logging.getLogger("uvicorn.error.ask")

ASK_WORKERS = 32  # questions worked on at once; more wait their turn, until the bound
MAX_MARGIN_SECONDS, MARGIN_SHARE = 0.5, 0.1  # of the bound, kept to hand the answer back
NO_INDEX_DETAIL = (
    "nothing is indexed yet, so there is nothing to answer from: materialise search_index "
    "(the search chain) first"
)
BUSY_DETAIL = "the search index did not answer in time: try again shortly"
FAILED_DETAIL = "internal error: the question could not be answered"
NOTHING_FOUND = "The indexed news says nothing about that."

Method = Literal[
    "model",
    "extractive",
    "extractive (model too slow)",
    "extractive (model failed)",
    "nothing found",
]
METHODS: dict[str, Method] = {
    MODEL: "model",
    EXTRACTIVE: "extractive",
    MODEL_TOO_SLOW: "extractive (model too slow)",
    MODEL_FAILED: "extractive (model failed)",
}

QUESTION = "Who is harvesting honey from rooftop hives?"
HONEY = "Honey Harvest Begins at Rooftop Hives Above the Quillhaven Library"
EXAMPLE = {
    "question": QUESTION,
    "answer": "Beekeepers lifted the first frames of honey from the hives above the library "
    f"on Monday. ({HONEY}, 2026-03-02)",
    "method": "extractive",
    "model": EXTRACTIVE_MODEL,
    "citations": [
        {
            "chunk_id": "3f7c0e1a9b2d4c5e-0",
            "document_id": "3f7c0e1a9b2d4c5e",
            "title": HONEY,
            "day": "2026-03-02",
            "url": "https://example.com/news/honey-harvest",
            "cited": True,
        }
    ],
}


class Citation(BaseModel):
    chunk_id: str = Field(description="The chunk's id (`id` in `GET /search`'s hits)")
    document_id: str | None = Field(description="The document the chunk is from")
    title: str
    day: str | None = Field(description="The day the article was published (YYYY-MM-DD)")
    url: str | None
    cited: bool = Field(description="The answer's text names this article (its title and day)")


class AskAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    question: str = Field(description="The question as answered (runs of spaces made one)")
    answer: str = Field(
        description=f"At most {MAX_REPLY_CHARS} characters (an SMS's answer), ending with the "
        "title and day of the article it names"
    )
    method: Method = Field(
        description="`model`: the model's answer; `extractive`: the sentences of the best hit "
        "that share the most words with the question (no model configured), or, with a "
        "model, because it was not done within the bound (`model too slow`: its answer is "
        "cached for the next time) or failed; `nothing found`: no hit, no citation"
    )
    model: str | None = Field(
        description=f"What wrote the text: the model's name, or `{EXTRACTIVE_MODEL}`"
    )
    citations: list[Citation] = Field(
        description="The hits the answer was made from (the model read them all; the "
        "extractive answer is from the first), the article the text names first"
    )


def answer_body(question: str, answer: Answer) -> AskAnswer:
    """The response for an answer (`answer.kind` one of `ANSWERED` or `NO_HITS`)."""
    if answer.result is None:
        return AskAnswer(
            question=question,
            answer=NOTHING_FOUND,
            method="nothing found",
            model=None,
            citations=[],
        )
    return AskAnswer(
        question=question,
        answer=answer.text,
        method=METHODS[answer.kind],
        model=answer.result.model,
        citations=[Citation(**found) for found in citations(answer)],
    )


def _stripped(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("the question is blank")
    return value


Question = Annotated[
    str,
    BeforeValidator(_stripped),
    Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="The question, in plain words (surrounding spaces are removed)",
        examples=[QUESTION],
    ),
]


def _unavailable(detail: str, retry: bool) -> HTTPException:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else None
    return HTTPException(status_code=503, detail=detail, headers=headers)


def ask_router(
    answerer: Answerer, seconds: float, answer_log: AnswerLog | None = None
) -> APIRouter:
    """`GET /ask`, answered by `answerer` within `seconds` of a request's arrival; each answer
    kept in `answer_log` (its text and sources, never the question), without waiting for it."""
    router = APIRouter(tags=["ask"])
    workers = ThreadWaiter(ASK_WORKERS, "ask")
    margin = min(MAX_MARGIN_SECONDS, MARGIN_SHARE * seconds)

    @router.get(
        "/ask",
        summary="Ask a question: an answer from the indexed news, with its citations",
        description=(
            "The answer an SMS gets to the same question (the same code: the best hits of "
            "the search index, then the model's answer from them, or the extractive answer "
            f"from the best hit when there is no model or it is not done within {seconds:g} "
            "s), with the hits it is from as citations."
        ),
        responses={
            503: {
                "model": ErrorDetail,
                "description": "Nothing is indexed yet (materialise `search_index`), or the "
                "index did not answer in time (then try again after `Retry-After` seconds)",
            }
        },
    )
    async def ask(q: Question) -> AskAnswer:
        received = time.monotonic()
        question = " ".join(q.split())
        deadline = received + seconds - margin
        try:
            answer = await workers.run(
                received + seconds - time.monotonic(),
                functools.partial(answerer.answer, question, deadline, who="GET /ask"),
            )
        except (TimeoutError, SearchUnavailableError) as error:
            log.warning("GET /ask: no answer within %.1f s (%s)", seconds, type(error).__name__)
            raise _unavailable(BUSY_DETAIL, retry=True) from None
        except Exception as error:  # never its text: an error's message may quote the question
            log.error("GET /ask failed: %s", type(error).__name__)
            raise HTTPException(status_code=500, detail=FAILED_DETAIL) from None
        if answer.kind == SEARCH_TOO_SLOW:
            log.warning("GET /ask: the search did not answer within %.1f s", seconds)
            raise _unavailable(BUSY_DETAIL, retry=True)
        if answer.kind == NO_INDEX:
            raise _unavailable(NO_INDEX_DETAIL, retry=False)
        body = answer_body(question, answer)
        if answer_log is not None:
            answer_log.record(ASK_CHANNEL, answer)
        log.info(
            "GET /ask: %d characters in, a %s answer of %d characters, %d citations, in %.2f s",
            len(question),
            body.method,
            len(body.answer),
            len(body.citations),
            time.monotonic() - received,
        )
        return body

    return router


def stored_ask_router(env: Mapping[str, str], search: Searcher) -> APIRouter:
    """`GET /ask` over `search` (the service's `StoredSearch`) with the configured text
    provider. Raises `ConfigurationError` on a bad setting."""
    from glimpse_assets.resources import shared_resources
    from glimpse_assets.serve.settings import ServeSettings

    settings = ServeSettings.from_env(env)
    shared = shared_resources(env)
    provider = without_stored_questions(shared.text_provider)
    # The first question loads the query embedder (seconds of its bound), as /search's first
    # query does; with GLIMPSE_SMS=on, the SMS routes load it before the service is up.
    answer_log = AnswerLog(shared.object_store.store)
    return ask_router(Answerer(search, provider, name="ask"), settings.ask_seconds, answer_log)
