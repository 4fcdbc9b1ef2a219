"""`glimpse`: the project's command line, and the assembler of its commands. `glimpse serve` runs
the HTTP service (`serve.command`); `search` and `ingest` are the search domain's
(`search.commands`); `ask` (an answer of the sms domain's `Answerer` over the search domain's
index) and `status` (every domain's days, the index's size, today's LLM spend) span domains and
are assembled here, from the domain-free parts in `commands` and `day_status`.

Each command's modules are imported when it runs, so `glimpse --help` stays quick. Exit statuses
and one-line errors: `commands`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from glimpse_assets.commands import (
    NOTHING,
    OK,
    UNAVAILABLE,
    CommandError,
    bounded_storage,
    configured,
    environment,
    run,
    say,
)
from glimpse_assets.day_status import domains_status, instance_at, table, window

# -- glimpse ask: the sms domain's answers over the search domain's index -----------------

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
    from glimpse_assets.sms.answering import Answerer, without_stored_questions

    with configured():
        provider = without_stored_questions(shared_resources(env).text_provider)
    return Answerer(search, provider, name="ask")


def citation_line(number: int, found: dict) -> str:
    parts = [found["title"], found["day"] or "no day"]
    if found["url"]:
        parts.append(found["url"])
    named = "  (named in the answer)" if found["cited"] else ""
    return f"[{number}] " + " | ".join(parts) + named


def ask(args: argparse.Namespace) -> int:
    from glimpse_assets.search.commands import NO_INDEX, checked_query, stored_search
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


def ask_main(args: argparse.Namespace) -> int:
    return run("ask", lambda: ask(args))


# -- glimpse status: every domain's days, the index's size, today's spend ------------------


def domain_assets(env: Mapping[str, str]) -> dict[str, list]:
    """Each domain's daily assets (keys), in `DOMAINS` order; the partitions they share."""
    import dagster as dg

    from glimpse_assets.definitions import DOMAINS, domain_builders
    from glimpse_assets.resources import shared_resources

    shared = shared_resources(env)
    found = {}
    for name, build in zip(DOMAINS, domain_builders(), strict=True):
        keys = []
        for assets_def in build(env, shared).assets or []:
            daily = isinstance(
                getattr(assets_def, "partitions_def", None), dg.TimeWindowPartitionsDefinition
            )
            if isinstance(assets_def, dg.AssetsDefinition) and assets_def.is_executable and daily:
                keys += sorted(assets_def.keys, key=lambda key: key.to_user_string())
        found[name] = keys
    return found


def storage_facts(env: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """The index's rows and today's spend record; whether both were read."""
    from glimpse_assets.llm.budget import BUDGET_PREFIX, BudgetLedger, reserved_usd
    from glimpse_assets.search.commands import stored_search
    from glimpse_assets.search.stored import SearchUnavailableError
    from glimpse_assets.settings import ProviderSettings, StorageSettings
    from glimpse_assets.storage.object_store import StorageError
    from glimpse_assets.storage.resource import ObjectStoreResource

    facts: dict[str, Any] = {"search_index_rows": None, "llm_spend_today": None}
    complete = True
    try:
        facts["search_index_rows"] = stored_search(env).indexed_rows()
    except SearchUnavailableError:
        complete = False
    budget = ProviderSettings.from_env(env).daily_budget_usd
    try:
        with bounded_storage():
            uri = StorageSettings.from_env(env).storage_uri
            records = ObjectStoreResource(storage_uri=uri).records(BUDGET_PREFIX)
        record = BudgetLedger(records, budget).today()
        facts["llm_spend_today"] = {
            "day": record["day"],
            "spent_usd": record["spent_usd"],
            "paid_calls": record["paid_calls"],
            "reserved_usd": round(reserved_usd(record), 9),
            "budget_usd": budget,
        }
    except StorageError:
        complete = False
    return facts, complete


def instance_status(env: Mapping[str, str], asked: str | None):
    """The window's days, the instance (or None), where it was read, each domain's days."""
    from glimpse_assets import partitions
    from glimpse_assets.settings import ConfigurationError

    try:
        days_def = partitions.days_for(env)
        days = window(days_def.get_partition_keys(), asked, partitions.today_utc())
        assets = domain_assets(env)
    except ConfigurationError as error:
        raise CommandError(str(error)) from None
    instance, source = instance_at(env)
    return days, instance, source, domains_status(instance, assets, days_def, days)


def status(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    env = environment()
    # The storage's facts (lancedb opening the index) are read while the instance is.
    with ThreadPoolExecutor(1, thread_name_prefix="status-storage") as pool:
        storage = pool.submit(storage_facts, env)
        days, instance, source, domains = instance_status(env, args.days)
        facts, complete = storage.result()
    if args.json:
        body = {
            "days": {"first": days[0], "last": days[-1]},
            "source": source,
            "runs": instance is not None,
            "domains": {name: asdict(found) for name, found in domains.items()},
            **facts,
        }
        print(json.dumps(body, indent=2))
    else:
        if instance is None:
            say("status", source)
        print(table(days, source, domains, facts))
    return OK if complete else UNAVAILABLE


def status_main(args: argparse.Namespace) -> int:
    return run("status", lambda: status(args))


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1 to 65535)")
    return port


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("is not a whole number") from None
    if not 1 <= workers <= 64:
        raise argparse.ArgumentTypeError(f"{workers} is not a number of workers (1 to 64)")
    return workers


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="glimpse", description="Glimpse's command line.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = commands.add_parser(
        "serve",
        help="serve the stored outputs over HTTP (search, documents)",
        description="Serve what the assets stored over HTTP. API keys: GLIMPSE_API_KEYS "
        "(comma-separated), sent in the X-API-Key header.",
    )
    command.add_argument("--host", default="127.0.0.1", help="address to listen on")
    command.add_argument("--port", type=_port, default=8080, help="port to listen on")
    command.add_argument(
        "--no-auth",
        action="store_true",
        help="serve every route without an API key (a warning is printed)",
    )
    command.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help=f"worker processes (1). One per core ({os.cpu_count() or 1} here) uses every core "
        "for searches; each worker has its own per-key rate limit, answer caches and model",
    )
    command.set_defaults(run=_command("glimpse_assets.serve.command", "serve"))
    _people_commands(commands)
    return top


def _command(module: str, function: str):
    """Run `module.function(args)`, `module` imported only then."""

    def run_command(args: argparse.Namespace) -> int:
        from importlib import import_module

        return getattr(import_module(module), function)(args)

    return run_command


EXITS = (
    "exit status: 0 done; 1 nothing found (or, for ingest, some files failed); 2 a usage or "
    "configuration error; 3 the storage or the index did not answer in time"
)


def _people_commands(commands) -> None:
    search = commands.add_parser(
        "search",
        help="search the indexed documents by meaning",
        description="The indexed documents nearest in meaning to QUERY, best first, as GET "
        "/search finds them (title, day, url, score, a snippet).",
        epilog=EXITS,
    )
    search.add_argument("query", metavar="QUERY", help="what to look for, in plain words")
    search.add_argument("--limit", type=int, default=5, help="how many results (1 to 50; 5)")
    search.add_argument("--day", help="only documents published that day (YYYY-MM-DD)")
    search.add_argument("--since", help="only documents published on or after this day")
    search.add_argument("--until", help="only documents published on or before this day")
    search.add_argument("--json", action="store_true", help="GET /search's JSON body")
    search.set_defaults(run=_command("glimpse_assets.search.commands", "search_main"))

    ask = commands.add_parser(
        "ask",
        help="ask a question: an answer from the indexed news, with its citations",
        description="The answer GET /ask (and an SMS) gives to QUESTION: the model's, or the "
        "extractive one from the best search hit, with the hits it is from, numbered.",
        epilog=EXITS,
    )
    ask.add_argument("question", metavar="QUESTION", help="the question, in plain words")
    ask.add_argument(
        "--seconds",
        type=float,
        help="how long the answer may take once the index is loaded (default "
        "GLIMPSE_ASK_SECONDS, 10)",
    )
    ask.add_argument("--json", action="store_true", help="GET /ask's JSON body")
    ask.set_defaults(run=ask_main)

    ingest = commands.add_parser(
        "ingest",
        help="add text, Markdown, HTML or PDF files to the search index",
        description="Store each file (folders: every .txt, .md, .html, .htm and .pdf under "
        "them) in the ingest inbox as POST /documents does; the inbox sensor then indexes "
        "them. Documents already in the inbox are skipped.",
        epilog="exit status: 0 every file stored or already stored; 1 a file failed (each "
        "named on stderr); 2 a usage or configuration error; 3 the storage did not answer",
    )
    ingest.add_argument("paths", metavar="PATH", nargs="+", help="a file or a folder")
    ingest.add_argument(
        "--verbose", action="store_true", help="a line for each file stored or skipped, with its id"
    )
    ingest.set_defaults(run=_command("glimpse_assets.search.commands", "ingest_main"))

    status = commands.add_parser(
        "status",
        help="per domain: the days stored, failed or missing; the index size; today's spend",
        description="For each domain, the days of a window stored, failed or missing (from the "
        "Dagster instance at DAGSTER_HOME) and the newest stored day; the search index's size "
        "and today's LLM spend (from the storage).",
        epilog="exit status: 0 (also when nothing has run yet); 2 a usage or configuration "
        "error; 3 the storage or the index did not answer",
    )
    status.add_argument(
        "--days", metavar="A..B", help="the days to show (default: the last 7, today included)"
    )
    status.add_argument("--json", action="store_true", help="the same as JSON")
    status.set_defaults(run=status_main)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
