"""What the `glimpse` commands share (the assembler `cli.py`, and the domains' own commands such
as `search.commands`): exit statuses, one-line errors, the environment. Knows no domain.

Exit statuses: 0 done (results found, every file stored); 1 nothing found, or some files failed;
2 a usage or configuration error; 3 the storage or the index did not answer (try again).
An error is one line on stderr, `glimpse <command>: <what is wrong>`: a setting's problem names
the variable, never its value, and no line repeats a query, a question or a secret.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import date

OK, NOTHING, USAGE, UNAVAILABLE = 0, 1, 2, 3
# How long a command waits for the index (its storage, and lancedb opening it): longer than the
# service's per-request wait, as a command starts cold.
INDEX_WAIT_SECONDS = 30.0


class CommandError(Exception):
    """A one-line reason to stop, with the exit status to stop with."""

    def __init__(self, message: str, status: int = USAGE):
        super().__init__(message)
        self.status = status


def say(command: str, line: str) -> None:
    print(f"glimpse {command}: {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def bounded_storage() -> Iterator[None]:
    """Every object store opened inside bounds its S3 calls as the service's do."""
    from glimpse_assets.storage.object_store import request_limits

    with request_limits():
        yield


@contextlib.contextmanager
def configured() -> Iterator[None]:
    """Settings read and storage opened inside: S3 calls bounded (`bounded_storage`), and a bad
    setting a `CommandError` (its one line, exit status 2)."""
    from glimpse_assets.settings import ConfigurationError

    try:
        with bounded_storage():
            yield
    except ConfigurationError as error:
        raise CommandError(str(error)) from None


def environment() -> Mapping[str, str]:
    """`os.environ` with the secrets of GLIMPSE_SECRETS_FROM loaded; `CommandError` on a bad
    setting."""
    from glimpse_assets.secrets import load_secrets
    from glimpse_assets.settings import ConfigurationError

    try:
        return load_secrets(os.environ)
    except ConfigurationError as error:
        raise CommandError(str(error)) from None


def parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{what} is not a day like 2026-03-02") from None


def run(command: str, body) -> int:
    """`body()`'s exit status; a `CommandError` is its one line and its status."""
    try:
        return body()
    except CommandError as error:
        say(command, str(error))
        return error.status
