"""The search domain's commands, run by `glimpse` (the assembler `cli.py`):

`glimpse search QUERY`: the indexed documents nearest in meaning to a query, as `GET /search`
finds them (`search.stored.StoredSearch`: the same embedder, index and distinct results). Exit 0
with results; 1 when nothing is found or nothing is indexed yet; 2 on a usage or configuration
error; 3 when the index did not answer in time.

`glimpse ingest PATH...`: text, Markdown, HTML and PDF files (or folders of them) into the
ingest inbox, each document stored exactly as `POST /documents` stores it (`search.inbox`: the
same checks, the same content-hash id, the same conditional write), so the inbox sensor starts
the search chain that indexes them. A document whose id is already in the inbox (any day) is
skipped. A file that gives no document (unreadable, no text, too large) is one line on stderr
naming it, and the others go on. The last line on stdout counts them; the exit status is 1 if
any failed, 2 on a usage or configuration error, 3 when the storage cannot even be listed. A
progress bar is drawn on stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from glimpse_assets.commands import (
    INDEX_WAIT_SECONDS,
    NOTHING,
    OK,
    UNAVAILABLE,
    CommandError,
    configured,
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

    with configured():
        return StoredSearch.from_env(env, wait_seconds=INDEX_WAIT_SECONDS)


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


def search_main(args: argparse.Namespace) -> int:
    return run("search", lambda: search(args))


STORED, ALREADY, FAILED = "stored", "already stored", "failed"


def object_store(env):
    from glimpse_assets.settings import StorageSettings
    from glimpse_assets.storage.resource import ObjectStoreResource

    with configured():
        return ObjectStoreResource(storage_uri=StorageSettings.from_env(env).storage_uri).store


def ingest_file(store, path: Path, known: set[str]) -> tuple[str, str]:
    """`(outcome, detail)`: `stored`/`already stored` and the id, or `failed` and why."""
    from glimpse_assets.search.files import FileProblem, file_document
    from glimpse_assets.search.inbox import accepted_document, document_id, ingest_document
    from glimpse_assets.storage.object_store import StorageError

    try:
        document = accepted_document(file_document(path))
    except FileProblem as problem:
        return FAILED, str(problem)
    except ValueError as problem:  # the inbox's own checks: too large, a field refused
        return FAILED, str(problem)
    identifier = document_id(document)
    if identifier in known:
        return ALREADY, identifier
    try:
        identifier, new = ingest_document(store, document, datetime.now(UTC))
    except StorageError as error:
        return FAILED, f"not stored: {type(error).__name__}"
    known.add(identifier)
    return (STORED if new else ALREADY), identifier


def progress(total: int):
    """A tqdm bar on stderr, drawn only when stderr is a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, disable=not sys.stderr.isatty())


def ingest(args: argparse.Namespace) -> int:
    from glimpse_assets.search.files import files_under
    from glimpse_assets.search.inbox import stored_document_ids
    from glimpse_assets.storage.object_store import StorageError

    store = object_store(environment())
    files = list(files_under(Path(path) for path in args.paths))
    if not files:
        raise CommandError("no .txt, .md, .html, .htm or .pdf file under the paths given", NOTHING)
    try:
        known = stored_document_ids(store)
    except StorageError as error:
        raise CommandError(
            f"the storage did not answer: {type(error).__name__}", UNAVAILABLE
        ) from None
    counts: Counter[str] = Counter()
    with progress(len(files)) as bar:
        for path in files:
            outcome, detail = ingest_file(store, path, known)
            counts[outcome] += 1
            if outcome == FAILED:
                bar.write(f"glimpse ingest: {path}: {detail}", file=sys.stderr)
            elif args.verbose:
                bar.write(f"{outcome}: {path} ({detail})", file=sys.stdout)
            bar.update()
    print(f"{counts[STORED]} stored, {counts[ALREADY]} already stored, {counts[FAILED]} failed")
    return NOTHING if counts[FAILED] else OK


def ingest_main(args: argparse.Namespace) -> int:
    return run("ingest", lambda: ingest(args))
