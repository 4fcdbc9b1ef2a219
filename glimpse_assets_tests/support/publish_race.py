"""Two runs posting the same day at the same moment, as two real processes ("spawn").

`race` starts two worker processes that share one storage folder and post to one outside double
(an HTTP server or an SMTP server running in the test process). A barrier releases them together,
and a gate holds each worker's first outside call (`start`, or `reconcile` of an earlier attempt)
until both workers have read the ledger: the worst interleaving, where each could have decided
from what it read that the day is still to be posted. Counters shared by the processes tell the
test how often each publisher step ran.
"""

from __future__ import annotations

import importlib
import io
import multiprocessing
import queue
import sys
import time
from typing import Any

WORKERS = 2
GATE_SECONDS = 30.0  # a safety net only: a worker never waits for one that will not come
JOIN_SECONDS = 120.0
DEFAULT_IMPL = "glimpse_assets.storage.exactly_once:publish_once"


def race_post(day: str):
    from PIL import Image

    from glimpse_assets.publish.publishers import Post

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(buffer, format="PNG")
    return Post(
        day=day,
        caption="Lanterns over the harbour.\n\n#glimpse #dailynews",
        png=buffer.getvalue(),
        title="Harbour lanterns festival",
        prompt="Lanterns over a harbour at dusk, warm light.",
        headlines=[{"title": "Harbour lanterns festival", "url": "https://news.example/a1"}],
    )


def build_publisher(spec: dict[str, Any]):
    from glimpse_assets.publish.publishers import (
        EmailPublisher,
        InstagramPublisher,
        OutboxPublisher,
    )
    from glimpse_assets.storage.resource import ObjectStoreResource

    object_store = ObjectStoreResource(storage_uri=spec["storage"])
    if spec["publisher"] == "instagram":
        return InstagramPublisher(
            object_store=object_store,
            access_token=spec["token"],
            user_id=spec["user_id"],
            graph_url=spec["graph_url"],
            public_base_url="http://127.0.0.1:9/storage",
            poll_seconds=0,
        )
    if spec["publisher"] == "email":
        return EmailPublisher(
            object_store=object_store,
            host="127.0.0.1",
            port=spec["smtp_port"],
            starttls=False,
            sender="glimpse@example.org",
            recipients=["reader@example.org"],
            timeout_seconds=10,
        )
    return OutboxPublisher(object_store=object_store)


class Shared:
    """Counters shared by the workers (multiprocessing Values, picklable for "spawn")."""

    NAMES = ("ledger_readers", "reconciles", "starts", "finishes")

    def __init__(self, context: Any):
        self.values = {name: context.Value("i", 0) for name in self.NAMES}

    def add(self, name: str) -> None:
        with self.values[name].get_lock():
            self.values[name].value += 1

    def __getitem__(self, name: str) -> int:
        return self.values[name].value

    def wait_for_all_readers(self) -> None:
        deadline = time.monotonic() + GATE_SECONDS
        while self["ledger_readers"] < WORKERS and time.monotonic() < deadline:
            time.sleep(0.005)


def gated_ledger(ledger: Any, shared: Shared) -> Any:
    """The worker's ledger; its first read counts the worker as having read the ledger."""
    read = False

    def first_read() -> None:
        nonlocal read
        if not read:
            read = True
            shared.add("ledger_readers")

    class GatedRecords(type(ledger)):
        def get(self, name):
            record = super().get(name)
            first_read()
            return record

        def get_versioned(self, name):
            version = super().get_versioned(name)
            first_read()
            return version

    return GatedRecords(ledger.store, ledger.prefix)


class GatedPublisher:
    """The real publisher, its first outside call held until both workers have read the ledger,
    and each step counted."""

    def __init__(self, inner: Any, shared: Shared):
        self._inner = inner
        self._shared = shared

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def reconcile(self, state):
        self._shared.wait_for_all_readers()
        self._shared.add("reconciles")
        return self._inner.reconcile(state)

    def start(self, post):
        self._shared.wait_for_all_readers()
        self._shared.add("starts")
        return self._inner.start(post)

    def finish(self, post, state):
        self._shared.add("finishes")
        return self._inner.finish(post, state)


def worker(spec: dict[str, Any], owner: str, barrier: Any, shared: Shared, results: Any) -> None:
    """One run: post `spec["day"]` with `publish_once` and put what it returned on `results`."""
    try:
        sys.path[:0] = spec.get("sys_path", [])
        module, function = spec.get("impl", DEFAULT_IMPL).split(":")
        publish_once = getattr(importlib.import_module(module), function)
        from glimpse_assets.storage.exactly_once import LEDGER_PREFIX
        from glimpse_assets.storage.resource import ObjectStoreResource

        publisher = build_publisher(spec)
        ledger = ObjectStoreResource(storage_uri=spec["storage"]).records(LEDGER_PREFIX)
        post = race_post(spec["day"])
        barrier.wait(timeout=60)
        record, action = publish_once(
            gated_ledger(ledger, shared),
            GatedPublisher(publisher, shared),
            post,
            spec.get("force", False),
            owner=owner,
            lease_seconds=spec.get("lease_seconds", 600.0),
            wait_seconds=spec.get("wait_seconds", 60.0),
            poll_seconds=spec.get("poll_seconds", 0.02),
        )
        results.put({"owner": owner, "action": action, "record": record})
    except BaseException as error:  # reported to the test, which fails on it
        results.put({"owner": owner, "error": f"{type(error).__name__}: {error}"})


def race(spec: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Run `WORKERS` workers at once; their results (sorted by owner) and the step counts."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    shared = Shared(context)
    results = context.Queue()
    owners = [f"race worker {n}" for n in range(WORKERS)]
    processes = [
        context.Process(target=worker, args=(spec, owner, barrier, shared, results))
        for owner in owners
    ]
    for process in processes:
        process.start()
    outcomes = []
    deadline = time.monotonic() + JOIN_SECONDS
    while len(outcomes) < len(processes) and time.monotonic() < deadline:
        try:
            outcomes.append(results.get(timeout=0.1))
        except queue.Empty:
            if not any(process.is_alive() for process in processes) and results.empty():
                break  # a worker died without reporting: the test sees a missing outcome
    for process in processes:
        process.join(timeout=JOIN_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
    counts = {name: shared[name] for name in Shared.NAMES}
    return sorted(outcomes, key=lambda outcome: outcome["owner"]), counts


def assert_one_winner(outcomes: list[dict]) -> tuple[dict, dict]:
    """Both workers returned; one posted and one found it posted. (winner, loser)."""
    assert [o.get("error") for o in outcomes] == [None, None], outcomes
    assert sorted(o["action"] for o in outcomes) == ["already published", "published"]
    (winner,) = [o for o in outcomes if o["action"] == "published"]
    (loser,) = [o for o in outcomes if o["action"] == "already published"]
    assert loser["record"] == winner["record"]
    assert winner["record"]["status"] == "published"
    assert winner["record"]["owner"] == winner["owner"]
    return winner, loser
