"""`glimpse serve` as a real process on 127.0.0.1, for tests that drive it over HTTP.

    with serve_process({"GLIMPSE_STORAGE_URI": str(tmp_path), "GLIMPSE_API_KEYS": KEY}) as service:
        with service.client() as client:           # httpx, base URL and X-API-Key set
            client.get("/search", params={"q": "harbour storm"})
        service.output()                           # everything it wrote to stdout and stderr

`index_sample_day(storage_uri)` first gives it a real index (a day of the sample news), and
`store_sample_stories(storage_uri, days)` stored stories (days of the sample activities).

The process gets the test's environment without any GLIMPSE_* or AWS_* variable (test AWS
credentials instead), plus `env`. It is
started on a free port, waited for until `/healthz` answers, and stopped at the end of the block
(SIGTERM, then SIGKILL); its output goes to files, so a chatty server never blocks on a pipe.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from glimpse_assets_tests.support.net import free_port, http_ok, wait_until

GLIMPSE = str(Path(sys.executable).with_name("glimpse"))
START_TIMEOUT = 60.0


def index_sample_day(storage_uri: str, day: str = "2026-03-02") -> None:
    """A day of the sample news through the search chain (raw_news, then the search group), so
    the service has a real index to search at `storage_uri`."""
    import dagster as dg

    from glimpse_assets.news.assets import raw_news
    from glimpse_assets.search.assets import search_assets
    from glimpse_assets_tests.support.stores import search_resources_at

    resources = search_resources_at(storage_uri)
    dg.materialize([raw_news], partition_key=day, resources=resources)
    dg.materialize(search_assets, partition_key=day, resources=resources)


def store_sample_stories(storage_uri: str, days: list[str]) -> None:
    """Days of the sample activities through the stories chain, offline, at `storage_uri`."""
    import dagster as dg

    from glimpse_assets.providers.offline_text import OfflineTextProvider
    from glimpse_assets.stories.assets import stories_assets
    from glimpse_assets.stories.sources import SampleActivitySource
    from glimpse_assets_tests.support.stores import io_manager_at

    io_manager = io_manager_at(storage_uri)
    resources = {
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
        "text_provider": OfflineTextProvider(),
        "strava_source": SampleActivitySource(),
    }
    for day in days:
        assert dg.materialize(stories_assets, partition_key=day, resources=resources).success


# As in conftest: a test's process never uses a developer's AWS credentials or endpoint.
NO_REAL_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def process_env(env: Mapping[str, str]) -> dict[str, str]:
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GLIMPSE_", "AWS_"))
    }
    return {**base, **NO_REAL_AWS, "PYTHONUNBUFFERED": "1", **env}


def run_glimpse(
    args: list[str], env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run `glimpse <args>` to its end (for the ways it refuses to start)."""
    return subprocess.run(
        [GLIMPSE, *args], env=process_env(env), capture_output=True, text=True, timeout=timeout
    )


@dataclass
class ServeProcess:
    url: str
    api_key: str | None
    process: subprocess.Popen
    log: Path
    _final_output: str | None = None

    def output(self) -> str:
        """All the process wrote so far (stdout and stderr interleaved); after the block, all it
        wrote until it stopped."""
        if self._final_output is not None:
            return self._final_output
        return self.log.read_text(errors="replace")

    def client(self, api_key: str | None = "default", **kwargs) -> httpx.Client:
        """An httpx client on the service; `api_key` defaults to the first configured key,
        None sends no key."""
        key = self.api_key if api_key == "default" else api_key
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


def warmed(service: ServeProcess, api_key: str | None = "default", tries: int = 10) -> ServeProcess:
    """`service` once a search has been answered: the first loads lancedb, the index and the query
    embedder, which on a busy machine can take longer than a search waits (then 503). A module's
    shared service is warmed so that no test depends on which one searches first."""
    with service.client(api_key=api_key) as client:
        for _ in range(tries):
            if client.get("/search", params={"q": "news of the day"}).status_code != 503:
                return service
    raise AssertionError(f"{tries} searches answered 503:\n{service.output()[-3000:]}")


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve_process(
    env: Mapping[str, str], *args: str, timeout: float = START_TIMEOUT
) -> Iterator[ServeProcess]:
    """`glimpse serve --host 127.0.0.1 --port <free> <args>` with `env`; see the module doc."""
    port = free_port()
    keys = [key.strip() for key in env.get("GLIMPSE_API_KEYS", "").split(",") if key.strip()]
    with tempfile.TemporaryDirectory(prefix="glimpse-serve-") as folder:
        log = Path(folder) / "output.log"
        with open(log, "wb") as sink:
            process = subprocess.Popen(
                [GLIMPSE, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                env=process_env(env),
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        service = ServeProcess(f"http://127.0.0.1:{port}", keys[0] if keys else None, process, log)
        try:
            wait_until(
                http_ok(f"{service.url}/healthz"),
                "glimpse serve",
                process=process,
                log=service.output,
                timeout=timeout,
            )
            yield service
        finally:
            stop(process)
            service._final_output = service.output()
