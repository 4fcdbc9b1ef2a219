"""Storage that fails under a test: S3 behind a proxy that refuses or vanishes after N object
PUTs (`FaultyS3Proxy`), SeaweedFS stopped with SIGSTOP (`stalled`), and a local root on a 1 MB
tmpfs that fills up (`small_disk`, `fill`) or is remounted read-only (`read_only`)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

from glimpse_assets_tests.support.seaweedfs import SeaweedFS

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}


class FaultyS3Proxy:
    """Forwards HTTP requests to `upstream` until `allow_puts` object PUTs have gone through;
    after that it `refuse`s every request (503 SlowDown) or `vanish`es (drops the connection and
    closes its listening socket, so new connections are refused)."""

    def __init__(self, upstream: str, allow_puts: int | None = None, then: str = "refuse"):
        assert then in {"refuse", "vanish"}
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname, parsed.port)
        self.allow_puts = allow_puts
        self.then = then
        self.puts = 0
        self.failing = False
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultyS3Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _counts_as_put(self, method: str, path: str) -> bool:
        """PutObject (path-style `/bucket/key`), not CreateBucket (`/bucket`)."""
        return method == "PUT" and "/" in path.split("?")[0].strip("/")

    def _admit(self, method: str, path: str) -> bool:
        with self.lock:
            if self.failing:
                return False
            if self._counts_as_put(method, path) and self.allow_puts is not None:
                if self.puts >= self.allow_puts:
                    self.failing = True
                    if self.then == "vanish":
                        threading.Thread(target=self.stop, daemon=True).start()
                    return False
                self.puts += 1
            return True

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                if not proxy._admit(self.command, self.path):
                    if proxy.then == "vanish":
                        self.close_connection = True  # no reply: the server is gone
                        return
                    error = b"<Error><Code>SlowDown</Code><Message>refused</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() not in HOP_BY_HOP | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        return Handler


# -- SeaweedFS stalled, a local disk full or read-only ------------------------------------------


@contextlib.contextmanager
def stalled(server: SeaweedFS) -> Iterator[None]:
    """The whole `weed` process group stopped (SIGSTOP): connections are accepted by the kernel,
    and nothing answers. SIGCONT at the end, whatever happens."""
    group = os.getpgid(server._process.pid)
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[Path]:
    """A 1 MB tmpfs mounted at `folder` (skips the test where mounting is not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(disk: Path) -> Path:
    """Write to `disk` until no block is left; the ballast file to delete afterwards."""
    ballast = disk / "ballast"
    with open(ballast, "wb", buffering=0) as file, contextlib.suppress(OSError):
        while True:
            file.write(b"\0" * 4096)
    return ballast


def read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
