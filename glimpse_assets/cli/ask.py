"""`glimpse ask QUESTION`: the answer `GET /ask` (and an SMS) gives, from the same code
(`sms.answering.Answerer` over the service's `StoredSearch`), with its numbered citations.

The bound (GLIMPSE_ASK_SECONDS, or `--seconds`) starts once the index and the query embedder are
loaded: a command starts cold, the service does not. A model call still running at the bound is
left to finish (its cost is recorded in the budget) before the command exits.

Exit 0 with an answer; 1 when nothing is found or nothing is indexed yet; 2 on a usage or
configuration error; 3 when the index did not answer in time.
"""

from __future__ import annotations

import argparse
import json
import time

from glimpse_assets.cli.common import (
    NOTHING,
    OK,
    UNAVAILABLE,
    CommandError,
    bounded_storage,
    environment,
    run,
    say,
)
from glimpse_assets.cli.search import NO_INDEX, checked_query, stored_search

ASK_SECONDS = "GLIMPSE_ASK_SECONDS"


def bound(env, seconds: float | None) -> float:
    """`--seconds`, else GLIMPSE_ASK_SECONDS (`ServeSettings`' bound of `GET /ask`)."""
    from glimpse_assets.serve.settings import ServeSettings
    from glimpse_assets.settings import ConfigurationError

    if seconds is not None:
        if not 0 < seconds <= 60:
            raise CommandError("--seconds must be more than 0 and at most 60")
        return seconds
    try:  # that variable alone: the service's API keys are no business of this command's
        return ServeSettings.from_env(
            {k: v for k, v in env.items() if k == ASK_SECONDS}
        ).ask_seconds
    except ConfigurationError as error:
        raise CommandError(str(error)) from None


def answerer(env, search):
    from glimpse_assets.resources import shared_resources
    from glimpse_assets.settings import ConfigurationError
    from glimpse_assets.sms.answering import Answerer, without_stored_questions

    try:
        with bounded_storage():
            provider = without_stored_questions(shared_resources(env).text_provider)
    except ConfigurationError as error:
        raise CommandError(str(error)) from None
    return Answerer(search, provider, name="ask")


def citation_line(number: int, found: dict) -> str:
    parts = [found["title"], found["day"] or "no day"]
    if found["url"]:
        parts.append(found["url"])
    named = "  (named in the answer)" if found["cited"] else ""
    return f"[{number}] " + " | ".join(parts) + named


def ask(args: argparse.Namespace) -> int:
    from glimpse_assets.search.stored import SearchUnavailableError
    from glimpse_assets.sms.answering import (
        MODEL,
        NO_HITS,
        SEARCH_TOO_SLOW,
        citations,
    )
    from glimpse_assets.sms.answering import (
        NO_INDEX as NOT_INDEXED,
    )

    question = checked_query(args.question, "the question")
    env = environment()
    seconds = bound(env, args.seconds)
    answers = answerer(env, stored_search(env))
    try:
        answers.warm_up(attempts=1)  # lancedb, the index and the embedder, before the bound
        answer = answers.answer(question, time.monotonic() + seconds, who="glimpse ask")
    except SearchUnavailableError as error:
        raise CommandError(str(error), UNAVAILABLE) from None
    finally:
        answers.close()
    if answer.kind == SEARCH_TOO_SLOW:
        raise CommandError(f"the search did not answer within {seconds:g} s", UNAVAILABLE)
    if answer.kind == NOT_INDEXED:
        raise CommandError(NO_INDEX, NOTHING)
    if answer.kind == NO_HITS or answer.result is None:
        raise CommandError("nothing found", NOTHING)
    cited = citations(answer)
    method = "model" if answer.kind == MODEL else answer.kind  # as GET /ask names it
    if args.json:  # GET /ask's body
        body = {
            "question": question,
            "answer": answer.text,
            "method": method,
            "model": answer.result.model,
            "citations": cited,
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return OK
    print(answer.text)
    print()
    for number, found in enumerate(cited, 1):
        print(citation_line(number, found))
    print(f"({method}: {answer.result.model})")
    if answer.kind != MODEL and answers.uses_model:
        say("ask", "the model did not answer in time or failed: this is the extractive answer")
    return OK


def main(args: argparse.Namespace) -> int:
    return run("ask", lambda: ask(args))
