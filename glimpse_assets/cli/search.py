"""`glimpse search QUERY`: the indexed documents nearest in meaning to a query, as `GET /search`
finds them (`search.stored.StoredSearch`: the same embedder, index and distinct results).

Exit 0 with results; 1 when nothing is found or nothing is indexed yet; 2 on a usage or
configuration error; 3 when the index did not answer in time.
"""

from __future__ import annotations

import argparse
import json
from datetime import date

from glimpse_assets.cli.common import (
    INDEX_WAIT_SECONDS,
    NOTHING,
    OK,
    UNAVAILABLE,
    CommandError,
    bounded_storage,
    environment,
    parse_day,
    run,
    say,
)

MAX_LIMIT = 50  # as GET /search's k
SNIPPET_CHARS = 160
NO_INDEX = "nothing is indexed yet: materialise search_index (the search chain) first"


def checked_query(text: str, what: str = "the query") -> str:
    """The query with its runs of spaces made one; `CommandError` if blank or too long."""
    from glimpse_assets.search.stored import MAX_QUERY_CHARS

    query = " ".join(text.split())
    if not query:
        raise CommandError(f"{what} is blank")
    if len(query) > MAX_QUERY_CHARS:
        raise CommandError(f"{what} is {len(query)} characters; at most {MAX_QUERY_CHARS}")
    return query


def days(args: argparse.Namespace) -> tuple[date | None, date | None]:
    if args.day and (args.since or args.until):
        raise CommandError("--day is one day: give it, or --since/--until, not both")
    if args.day:
        day = parse_day(args.day, "--day")
        return day, day
    since = parse_day(args.since, "--since") if args.since else None
    until = parse_day(args.until, "--until") if args.until else None
    if since and until and since > until:
        raise CommandError(f"--since ({since}) is after --until ({until})")
    return since, until


def stored_search(env):
    """The service's `StoredSearch` for `env`, waiting `INDEX_WAIT_SECONDS` for the index."""
    from glimpse_assets.search.stored import StoredSearch
    from glimpse_assets.settings import ConfigurationError

    try:
        with bounded_storage():
            return StoredSearch.from_env(env, wait_seconds=INDEX_WAIT_SECONDS)
    except ConfigurationError as error:
        raise CommandError(str(error)) from None


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 3].rstrip() + "..."


def hit_lines(number: int, hit: dict) -> list[str]:
    day = (hit.get("published") or "")[:10] or "no day"
    where = [day, f"score {hit['score']:.3f}"]
    if hit.get("url"):
        where.append(hit["url"])
    return [f"{number}. {hit['title']}", f"   {' | '.join(where)}", f"   {snippet(hit['text'])}"]


def search(args: argparse.Namespace) -> int:
    from glimpse_assets.search.stored import SearchUnavailableError

    query = checked_query(args.query)
    if not 1 <= args.limit <= MAX_LIMIT:
        raise CommandError(f"--limit is {args.limit}; it must be 1 to {MAX_LIMIT}")
    since, until = days(args)
    backend = stored_search(environment())
    try:
        hits = backend.search(query, args.limit, since, until)
    except SearchUnavailableError as error:
        raise CommandError(str(error), UNAVAILABLE) from None
    if args.json:  # GET /search's body
        body = {
            "query": query,
            "results": hits or [],
            "index": "empty" if hits is None else "ready",
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
    if hits is None:
        say("search", NO_INDEX)
        return NOTHING
    if not hits:
        say("search", "nothing found")
        return NOTHING
    if not args.json:
        print("\n\n".join("\n".join(hit_lines(n, hit)) for n, hit in enumerate(hits, 1)))
    return OK


def main(args: argparse.Namespace) -> int:
    return run("search", lambda: search(args))
