"""Answering a question from the search index, by a deadline: the one code behind an SMS reply
(`sms.inbound`) and `GET /ask` on `glimpse serve` (`serve.ask_routes`).

`Answerer.answer(question, deadline, history=..., model=...)` returns an `Answer`:

1. **The hits.** The top `SEARCH_HITS` hits of the search index for the question, found by the
   deadline (else `busy (search too slow)`); for a follow-up (`is_follow_up`, with a `history`
   of earlier exchanges: SMS), those for the previous question and this one together when they
   match better, and the article of the previous answer. No index yet: `no index`; nothing
   found: `no hits`.
2. **The extractive answer**, always made first, from the best hit (`answers.answer_request`
   through the offline provider: the sentences of the best hit that share the most words with
   the question). Without a model it is the answer (`extractive`).
3. **The model's answer**, with a model: `answers.answer_request` (the question, the hits, the
   earlier exchanges) through the text provider's `complete`, in a small thread pool, waited
   for until the deadline. A slower call (`extractive (model too slow)`) or a failed one (a
   budget stop included: `extractive (model failed)`) is replaced by the extractive answer, and
   the call is left to finish (its answer cached by the gateway, so the same question asked
   again gets it). At most `MODEL_WORKERS` calls run at once, each with a timeout of at most
   30 s and at most one retry (`without_stored_questions`): a hung model costs answers their
   model, never their deadline.

`Answer.text` is the answer as an SMS carries it: at most `MAX_REPLY_CHARS`, ending with the
title and day of the article it names; `Answer.sources` are the hits it was made from (the model
read up to `MAX_SOURCES`, the extractive answer only the best) and `Answer.names(hit)` whether the
text names a hit's article. A search that fails raises (the caller says what went wrong).

The model's response cache is kept in this process's memory (`PrivateCache`), not under
`_cache/` like the other LLM calls: its requests hold the question and the earlier ones, which
no stored text may. The daily budget is the shared one (`_budget/`). Nothing here logs a
question: the caller names who asked (`who`: a person id, or the route).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import PrivateAttr

from glimpse_assets.providers.base import TextProvider, TextResult
from glimpse_assets.sms.answers import (
    MAX_REPLY_CHARS,
    MAX_SOURCES,
    answer_request,
    citation,
    cut_to,
    day_of,
)
from glimpse_assets.storage.resource import ObjectStoreResource

# uvicorn prints its "uvicorn.error" logger (its general log) at INFO: these lines go with it.
log = logging.getLogger("uvicorn.error.answers")

SEARCH_HITS = 3
SEARCH_WORKERS = 4
MODEL_WORKERS = 4  # model calls at once; more wait their turn until the deadline
MODEL_TIMEOUT_SECONDS = 30.0
MODEL_MAX_RETRIES = 1
WARM_UP_ATTEMPTS = 3  # searches tried before the service is up

# What an answer is (`Answer.kind`).
MODEL = "answer"
EXTRACTIVE = "extractive"
MODEL_TOO_SLOW = "extractive (model too slow)"
MODEL_FAILED = "extractive (model failed)"
NO_INDEX = "no index"
NO_HITS = "no hits"
SEARCH_TOO_SLOW = "busy (search too slow)"
ANSWERED = (MODEL, EXTRACTIVE, MODEL_TOO_SLOW, MODEL_FAILED)


class Searcher(Protocol):
    def search(self, query: str, k: int, since: Any, until: Any) -> list[dict] | None: ...


# An earlier exchange: (question, answer, the hit the answer was from).
Exchange = tuple[str, str, dict | None]


@dataclass(frozen=True)
class Answer:
    kind: str  # one of ANSWERED, NO_INDEX, NO_HITS, SEARCH_TOO_SLOW
    result: TextResult | None = None
    chunks: tuple[dict[str, Any], ...] = ()  # the hits the answer was given, best first

    @property
    def text(self) -> str:
        """The answer, at most `MAX_REPLY_CHARS` (an SMS), ending with its article's citation;
        '' when there is none (`kind` not in `ANSWERED`)."""
        return cut_to(self.result.text.strip(), MAX_REPLY_CHARS) if self.result else ""

    @property
    def sources(self) -> tuple[dict[str, Any], ...]:
        """The hits the answer was made from: those the model read, or the best one."""
        if self.result is None:
            return ()
        return self.chunks[:MAX_SOURCES] if self.kind == MODEL else self.chunks[:1]

    def names(self, chunk: dict[str, Any]) -> bool:
        """Whether the text names `chunk`'s article (ends with its title and day)."""
        return bool(self.result) and self.text.endswith(citation(chunk))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def citations(answer: Answer) -> list[dict[str, Any]]:
    """The hits `answer` was made from as citations (`chunk_id`, `document_id`, `title`, `day`,
    `url`, and `cited`: the text names its article), that article first, else best first:
    what `GET /ask` and `glimpse ask` show."""
    found = [
        {
            "chunk_id": str(hit.get("id")),
            "document_id": _text(hit.get("document_id")),
            "title": str(hit.get("title") or ""),
            "day": day_of(hit.get("published")) or None,
            "url": _text(hit.get("url")),
            "cited": answer.names(hit),
        }
        for hit in answer.sources
    ]
    return sorted(found, key=lambda found: not found["cited"])  # stable


_REFERRING = frozenset(
    [
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "that",
        "those",
        "this",
        "these",
        "there",
        "he",
        "him",
        "his",
        "she",
        "her",
    ]
)
_FOLLOW_UP_START = ("and ", "also ", "what about ", "how about ", "then ", "so ")


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the one before: it begins like "and ..." or "what about
    ...", or refers back ("they", "it", "that", "there" ...)."""
    text = question.strip().lower()
    words = set(re.findall(r"[a-z']+", text))
    return text.startswith(_FOLLOW_UP_START) or bool(words & _REFERRING)


# -- the model's cache, kept in memory ------------------------------------------------------


class _MemoryRecords:
    """What `llm.cache.ResponseCache` needs of its records (get, put), bounded and in memory."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._records.get(name)
            if record is not None:
                self._records.move_to_end(name)
            return record

    def put(self, name: str, record: dict[str, Any]) -> str:
        with self._lock:
            self._records[name] = record
            self._records.move_to_end(name)
            while len(self._records) > self.limit:
                self._records.popitem(last=False)
        return ""


class PrivateCache(ObjectStoreResource):
    """The shared object store, but the LLM response cache (`_cache`) is kept in memory."""

    _memory: _MemoryRecords = PrivateAttr(default_factory=_MemoryRecords)

    def records(self, prefix: str):
        from glimpse_assets.llm.cache import CACHE_PREFIX

        if prefix.strip("/") == CACHE_PREFIX:
            return self._memory
        return super().records(prefix)


def without_stored_questions(provider: TextProvider) -> TextProvider:
    """The text provider answers use: the shared one, with a model's response cache in memory
    (see the module doc) and its API key read now (Dagster resolves `dg.EnvVar` when a run
    starts; the service is no run). The offline provider is used as it is."""
    import dagster as dg

    from glimpse_assets.providers.openai_provider import OpenAITextProvider
    from glimpse_assets.settings import ConfigurationError

    if not isinstance(provider, OpenAITextProvider):
        return provider
    client = provider.openai
    if isinstance(client.api_key, dg.EnvVar):
        key = client.api_key.get_value()
        if not key:
            raise ConfigurationError(
                f"{client.api_key.env_var_name} is not set: answering questions (SMS, /ask) "
                "with GLIMPSE_PROVIDER=openai needs it"
            )
        client = client.with_api_key(key)
    calls, store = provider.calls, provider.calls.object_store
    private = PrivateCache(
        storage_uri=store.storage_uri,
        endpoint_url=store.endpoint_url,
        region_name=store.region_name,
    )
    return OpenAITextProvider(
        openai=client,
        calls=type(calls)(
            object_store=private,
            daily_budget_usd=calls.daily_budget_usd,
            prices_file=calls.prices_file,
            max_concurrency=calls.max_concurrency,
            # An answer later than its deadline is only cached: a call holds one of the
            # MODEL_WORKERS for at most (1 + 1) * 30 s, not the steps' 3 * 120 s.
            max_retries=min(calls.max_retries, MODEL_MAX_RETRIES),
            timeout_seconds=min(calls.timeout_seconds, MODEL_TIMEOUT_SECONDS),
        ),
        model=provider.model,
        max_tokens=provider.max_tokens,
        moderation_model=provider.moderation_model,
    )


# -- answering ------------------------------------------------------------------------------


class Answerer:
    """Answers questions from `search` with `provider` (see the module doc); `clock` is the
    clock deadlines are on."""

    def __init__(
        self,
        search: Searcher,
        provider: TextProvider,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str = "answer",
    ) -> None:
        from glimpse_assets.providers.offline_text import OfflineTextProvider

        self.search = search
        self.provider = provider
        self.extractive = OfflineTextProvider()
        self.uses_model = not isinstance(provider, OfflineTextProvider)
        self._clock = clock
        self._pool = ThreadPoolExecutor(MODEL_WORKERS, thread_name_prefix=f"{name}-model")
        # The search under the deadline too (the first one after a start loads the embedder).
        self._search_pool = ThreadPoolExecutor(SEARCH_WORKERS, thread_name_prefix=f"{name}-search")

    def warm_up(self, attempts: int = WARM_UP_ATTEMPTS) -> None:
        """Load now what the first question would wait for (seconds of its deadline): the
        openai SDK with a model, lancedb, the index and the query embedder. A search refused
        because the index's first opening outlasted the search's wait (lancedb's import alone
        takes seconds on a busy machine) is tried again: the opening went on meanwhile."""
        if self.uses_model:
            with contextlib.suppress(ImportError):  # the first question will say what is wrong
                import openai  # noqa: F401
        for _ in range(attempts):
            with contextlib.suppress(Exception):  # the first question will say what is wrong
                self.search.search("news of the day", 1, None, None)
                return

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._search_pool.shutdown(wait=False, cancel_futures=True)

    def _left(self, deadline: float) -> float:
        return max(deadline - self._clock(), 0.01)

    def hits(self, question: str, history: Sequence[Exchange], deadline: float) -> list | None:
        """The search hits for the question; for a follow-up (`is_follow_up`), those for the
        previous question and this one together when they match better ("and when was that?"
        finds nothing on its own). `FutureTimeout` when the search is not done by the
        deadline."""
        queries = [question]
        if history and is_follow_up(question):
            queries.append(f"{history[-1][0]} {question}")
        calls = [
            self._search_pool.submit(self.search.search, q, SEARCH_HITS, None, None)
            for q in queries
        ]
        try:
            found = [call.result(timeout=self._left(deadline)) for call in calls]
        except FutureTimeout:
            for call in calls:
                call.cancel()
            raise
        hits = found[0]
        if (
            hits is not None
            and len(found) > 1
            and found[1]
            and (not hits or found[1][0].get("score", 0) > hits[0].get("score", 0))
        ):
            hits = found[1]
        return hits

    def answer(
        self,
        question: str,
        deadline: float,
        *,
        history: Sequence[Exchange] = (),
        model: bool = True,
        who: str = "a caller",
    ) -> Answer:
        """The answer to `question` by `deadline` (on this answerer's clock); `model=False`
        makes it extractive. Raises what the search raises."""
        try:
            hits = self.hits(question, history, deadline)
        except FutureTimeout:
            return Answer(SEARCH_TOO_SLOW)
        if hits is None:
            return Answer(NO_INDEX)
        if not hits:
            return Answer(NO_HITS)
        chunks = list(hits)
        if history and history[-1][2] is not None:
            previous = history[-1][2]
            if all(hit.get("id") != previous.get("id") for hit in chunks):
                chunks = [*chunks[: SEARCH_HITS - 1], previous]  # the follow-up's article
        (result,) = self.extractive.complete(None, [answer_request(question, chunks, [])])
        kind = EXTRACTIVE
        if self.uses_model and model:
            exchanges = [(asked, answered) for asked, answered, _ in history]
            request = answer_request(question, chunks, exchanges)
            call = self._pool.submit(lambda: self.provider.complete(None, [request])[0])
            try:
                result, kind = call.result(timeout=self._left(deadline)), MODEL
            except FutureTimeout:
                call.cancel()  # if it has not started; a call in flight finishes and is cached
                kind = MODEL_TOO_SLOW
            except Exception as error:
                log.warning("model call for %s failed: %s", who, type(error).__name__)
                kind = MODEL_FAILED
        return Answer(kind, result, tuple(chunks))
