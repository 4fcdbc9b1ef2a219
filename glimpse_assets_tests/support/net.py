"""Ports and readiness for the tests' real servers and processes: the one `free_port` and the
one wait-until-ready that every test, double and benchmark uses.

    port = free_port()                      # nothing listens on it (yet)
    process = subprocess.Popen([..., "--port", str(port)], stdout=log_file, ...)
    wait_until(http_ok(f"http://127.0.0.1:{port}/healthz"), "glimpse serve", process=process,
               log=log_path, timeout=60)

`wait_until` polls `ready()` until it is true; it raises `NotReady` (naming `what`, with the
tail of `log`) as soon as one of `process` exits, or when `timeout` seconds have passed.
`http_ok(url)` and `tcp_open(port)` are the usual `ready`s; any function of no arguments that
returns a bool (or raises `NotReady` to give up at once) is one too.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HOST = "127.0.0.1"


class NotReady(RuntimeError):
    """A process or server did not get ready: it exited, or `timeout` passed."""


def free_ports(count: int, host: str = HOST) -> list[int]:
    """`count` different ports of `host` that nothing listened on a moment ago (all are bound at
    once before any is released, so none is handed out twice)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port(host: str = HOST) -> int:
    """A port of `host` that nothing listened on a moment ago: for a server to start on, or, left
    alone, a port where a connection is refused."""
    (port,) = free_ports(1, host)
    return port


def log_tail(log: Path | Callable[[], str] | None, lines: int = 30) -> str:
    """The last `lines` lines of a log file (or of what `log()` returns)."""
    if log is None:
        return ""
    try:
        text = log() if callable(log) else Path(log).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    ready: Callable[[], bool],
    what: str,
    *,
    process: subprocess.Popen | Sequence[subprocess.Popen] | None = None,
    log: Path | Callable[[], str] | None = None,
    timeout: float = 60.0,
    interval: float = 0.1,
) -> None:
    """Return as soon as `ready()` is true; raise NotReady if a `process` exits first or
    `timeout` seconds pass (see the module docstring)."""
    if process is None:
        processes: Sequence[subprocess.Popen] = ()
    elif isinstance(process, subprocess.Popen):
        processes = (process,)
    else:
        processes = process
    deadline = time.monotonic() + timeout
    while True:
        for each in processes:
            if each.poll() is not None:
                raise NotReady(f"{what} exited with {each.returncode}:\n{log_tail(log)}")
        if ready():
            return
        if time.monotonic() >= deadline:
            raise NotReady(f"{what} was not ready after {timeout:g} s:\n{log_tail(log)}")
        time.sleep(interval)


def http_ok(url: str, timeout: float = 2.0) -> Callable[[], bool]:
    """A `ready` for `wait_until`: a GET of `url` answers 2xx."""
    import httpx

    def ready() -> bool:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(url, timeout=timeout).is_success
        return False

    return ready


def tcp_open(port: int, host: str = HOST) -> Callable[[], bool]:
    """A `ready` for `wait_until`: something accepts TCP connections on `host:port`."""

    def ready() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False

    return ready
