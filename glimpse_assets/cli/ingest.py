"""`glimpse ingest PATH...`: text, Markdown, HTML and PDF files (or folders of them) into the
ingest inbox, each document stored exactly as `POST /documents` stores it (`search.inbox`: the
same checks, the same content-hash id, the same conditional write), so the inbox sensor starts
the search chain that indexes them.

A document whose id is already in the inbox (any day) is skipped. A file that gives no document
(unreadable, no text, too large) is one line on stderr naming it, and the others go on. The last
line on stdout counts them; the exit status is 1 if any failed, 2 on a usage or configuration
error, 3 when the storage cannot even be listed. A progress bar is drawn on stderr when it is a
terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from glimpse_assets.cli.common import (
    NOTHING,
    OK,
    UNAVAILABLE,
    CommandError,
    bounded_storage,
    environment,
    run,
)

STORED, ALREADY, FAILED = "stored", "already stored", "failed"


def object_store(env):
    from glimpse_assets.settings import ConfigurationError, StorageSettings
    from glimpse_assets.storage.resource import ObjectStoreResource

    try:
        with bounded_storage():
            resource = ObjectStoreResource(storage_uri=StorageSettings.from_env(env).storage_uri)
            return resource.store
    except ConfigurationError as error:
        raise CommandError(str(error)) from None


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


def main(args: argparse.Namespace) -> int:
    return run("ingest", lambda: ingest(args))
