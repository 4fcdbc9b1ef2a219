"""The daily budget counts what was spent: reserved before a call, settled after, in one record.

Runs materialise the real LLM assets against `FakeOpenAI`; tests assert what reached the server,
and what today's spend record (`_budget/<UTC day>.json` in the object store) holds: spent,
reserved, paid and rejected calls. The concurrency test starts two real processes together.
Prices are output tokens only, so every call's worst case is the same: MAX_TOKENS at $0.001.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets.llm.budget import (
    BUDGET_PREFIX,
    BudgetExceededError,
    BudgetLedger,
    Spend,
    utc_day,
)
from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.settings import ConfigurationError, ProviderSettings
from glimpse_assets.storage.resource import ObjectStoreResource
from glimpse_assets_tests.support.failures import failure_classes, failure_text
from glimpse_assets_tests.support.fake_openai import (
    CHAT,
    IMAGES,
    MODERATIONS,
    FakeOpenAI,
    answer,
    bad_request,
    server_error,
)
from glimpse_assets_tests.support.llm import (
    DAY,
    MAX_TOKENS,
    NEWS_CHAIN,
    NEXT_DAY,
    TEXT_MODEL,
    UP_TO_PROMPT,
    check_metadata,
    metadata_of,
    openai_resources,
    run,
    write_prices,
)
from glimpse_assets_tests.support.net import wait_until
from glimpse_assets_tests.support.stores import io_manager_at

REPO = Path(__file__).resolve().parents[1]
PER_TOKEN = 0.001
WORST_CASE = MAX_TOKENS * PER_TOKEN  # one image prompt call's reservation
# One call's worst case fits; what one real call costs (20+ tokens) plus another does not.
ONE_CALL = WORST_CASE + PER_TOKEN
URL_ANSWER = (
    "A bright harbour festival at dusk with paper lanterns over calm water, families on the "
    "pier and boats with coloured sails, as seen on https://example.com/festival today."
)


@pytest.fixture
def prices(tmp_path) -> str:
    return write_prices(
        tmp_path, {TEXT_MODEL: {"input_per_million": 0.0, "output_per_million": PER_TOKEN * 1e6}}
    )


def spend_record(storage_root: str | Path) -> dict:
    """Today's spend record, as any reader of the store sees it."""
    records = ObjectStoreResource(storage_uri=str(storage_root)).records(BUDGET_PREFIX)
    return records.get(utc_day(datetime.now(UTC))) or {}


def cost_of(completion_tokens: int) -> float:
    return completion_tokens * PER_TOKEN


# -- what is counted -----------------------------------------------------------------------


def test_a_paid_call_is_settled_to_its_cost_and_leaves_nothing_reserved(
    fake, local_io_manager, local_store, prices
):
    result = run(openai_resources(fake, local_io_manager, prices_file=prices), UP_TO_PROMPT)

    assert result.success
    (exchange,) = fake.answered(CHAT)
    record = spend_record(local_store.storage_uri)
    assert record["spent_usd"] == pytest.approx(cost_of(exchange.usage["completion_tokens"]))
    assert record["spent_usd"] == pytest.approx(metadata_of(result, "image_prompt")["cost_usd"])
    assert (record["paid_calls"], record["rejected_calls"], record["reserved"]) == (1, 0, {})


def test_a_rejected_answer_is_counted_and_stops_the_next_call(
    fake, local_io_manager, local_store, prices
):
    fake.script(CHAT, answer(URL_ANSWER))
    resources = openai_resources(
        fake, local_io_manager, prices_file=prices, daily_budget_usd=ONE_CALL
    )

    rejected = run(resources, UP_TO_PROMPT, DAY)

    assert not rejected.success
    classes = failure_classes(rejected, "image_prompt")
    message = failure_text(rejected, "image_prompt")
    assert "ProviderOutputError" in classes and "contains a URL" in message
    (exchange,) = fake.answered(CHAT)
    paid = cost_of(exchange.usage["completion_tokens"])
    record = spend_record(local_store.storage_uri)
    assert record["spent_usd"] == pytest.approx(paid)
    assert record["rejected_usd"] == pytest.approx(paid)
    assert (record["paid_calls"], record["rejected_calls"], record["reserved"]) == (1, 1, {})

    refused = run(resources, UP_TO_PROMPT, NEXT_DAY)

    assert not refused.success
    assert fake.count(CHAT) == 1  # the rejected answer's cost left no room for another call
    classes = failure_classes(refused, "image_prompt")
    message = failure_text(refused, "image_prompt")
    assert classes[0] == "BudgetExceededError"
    assert f"{paid:.4f} USD is already spent today" in message


@pytest.mark.parametrize(
    "fault",
    [pytest.param(bad_request(), id="400"), pytest.param(server_error(500), id="500")],
)
def test_a_call_that_got_no_answer_releases_its_reservation(
    fake, local_io_manager, local_store, prices, fault
):
    fake.always(CHAT, fault)
    resources = openai_resources(
        fake, local_io_manager, prices_file=prices, daily_budget_usd=ONE_CALL, max_retries=1
    )
    assert not run(resources, UP_TO_PROMPT, DAY).success
    sent = fake.count(CHAT)

    record = spend_record(local_store.storage_uri)
    assert (record["spent_usd"], record["paid_calls"], record["reserved"]) == (0.0, 0, {})

    fake.always(CHAT, None)  # the server recovers: the whole budget is still there
    assert run(resources, UP_TO_PROMPT, NEXT_DAY).success
    assert fake.count(CHAT) == sent + 1


def test_the_moderation_check_counts_too(fake, local_io_manager, local_store, tmp_path):
    # A check is not a materialisation: its cost is in no asset's metadata, yet it was paid.
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "chat": {TEXT_MODEL: {"input_per_million": 0.0, "output_per_million": 1000.0}},
                "images": {"test-image-model": {"1024x1024": 0.25}},
                "moderations": {"omni-moderation-latest": 0.5},
            }
        ),
        "utf-8",
    )
    result = run(openai_resources(fake, local_io_manager, prices_file=str(path)), NEWS_CHAIN)

    assert result.success
    assert fake.snapshot() == {CHAT: 1, IMAGES: 1, MODERATIONS: 1}
    chat = metadata_of(result, "image_prompt")["cost_usd"]
    assert check_metadata(result, "image_prompt_passes_moderation")["cost_usd"] == 0.5
    record = spend_record(local_store.storage_uri)
    assert record["spent_usd"] == pytest.approx(chat + 0.25 + 0.5)
    assert (record["paid_calls"], record["reserved"]) == (3, {})


# -- budgets that cannot be used -----------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -0.01])
def test_a_nan_infinite_or_negative_budget_is_refused(local_store, value):
    with pytest.raises(ValueError, match="daily_budget_usd"):  # LLMCalls checks its own field
        LLMCalls(object_store=local_store, daily_budget_usd=value)
    # And the setting fails the code location's load (see test_definitions.BAD_SETTINGS).
    with pytest.raises(ConfigurationError, match="GLIMPSE_DAILY_BUDGET_USD"):
        ProviderSettings.from_env({"GLIMPSE_DAILY_BUDGET_USD": str(value)})


# -- concurrent reservations ---------------------------------------------------------------


def test_concurrent_reservations_never_take_the_same_money(tmp_path):
    ledger = BudgetLedger(ObjectStoreResource(storage_uri=str(tmp_path)).records("_budget"), 5.0)
    taken, refused = [], []
    start = threading.Barrier(16)

    def reserve() -> None:
        start.wait()
        try:
            taken.append(ledger.reserve(1.0, 1, {"run_id": None, "step": None}))
        except BudgetExceededError:
            refused.append(1)

    threads = [threading.Thread(target=reserve) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(taken), len(refused)) == (5, 11)
    assert len(ledger.today()["reserved"]) == 5
    for reservation in taken:
        ledger.settle(reservation, Spend(usd=0.25, paid_calls=1))
    record = ledger.today()
    assert (record["spent_usd"], record["paid_calls"], record["reserved"]) == (1.25, 5, {})


WORKER_TIMEOUT = 120


@pytest.mark.process
def test_two_processes_with_money_for_one_call_send_exactly_one(tmp_path, prices):
    """Two runs in two processes, released at the same moment, each with one uncached call and
    a shared budget for one: the fake answers slowly, so both calls would be in flight together
    if both passed the guard. They share a Dagster instance (DAGSTER_HOME) and a storage."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text("utf-8"), "utf-8")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # its databases are created once here, not by both workers at the same moment
    storage = tmp_path / "storage"
    go = tmp_path / "go"
    with FakeOpenAI(delay_seconds=0.5) as fake:
        workers = []
        for day in (DAY, NEXT_DAY):
            job = {
                "base_url": fake.base_url,
                "storage": str(storage),
                "prices": prices,
                "budget": ONE_CALL,
                "day": day,
                "ready": str(tmp_path / f"ready-{day}"),
                "go": str(go),
                "result": str(tmp_path / f"result-{day}.json"),
                "log": str(tmp_path / f"worker-{day}.log"),
            }
            workers.append((job, _start_worker(job, home)))
        wait_until(
            lambda: all(Path(job["ready"]).exists() for job, _ in workers),
            "the workers",
            process=[process for _, process in workers],
            log=lambda: _output(workers),
            timeout=WORKER_TIMEOUT,
            interval=0.02,
        )
        go.touch()
        for _, process in workers:
            process.wait(timeout=WORKER_TIMEOUT)
        sent = fake.snapshot()

    assert all(Path(job["result"]).exists() for job, _ in workers), _output(workers)
    results = [json.loads(Path(job["result"]).read_text("utf-8")) for job, _ in workers]
    assert sent == {CHAT: 1, IMAGES: 0, MODERATIONS: 0}, (results, _output(workers))
    assert sorted(result["success"] for result in results) == [False, True]
    (refused,) = [result for result in results if not result["success"]]
    assert refused["classes"][0] == "BudgetExceededError"
    record = spend_record(storage)
    assert (record["paid_calls"], record["reserved"]) == (1, {})
    (exchange,) = fake.answered(CHAT)
    assert record["spent_usd"] == pytest.approx(cost_of(exchange.usage["completion_tokens"]))


def _start_worker(job: dict, home: Path) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO)}
    with open(job["log"], "w", encoding="utf-8") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "glimpse_assets_tests.test_llm_budget", json.dumps(job)],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _output(workers) -> str:
    return "\n---\n".join(Path(job["log"]).read_text("utf-8")[-3000:] for job, _ in workers)


def _worker(job: dict) -> None:
    """One run of the image prompt chain for `job["day"]`, started when `job["go"]` appears."""

    class _Fake:  # openai_resources only reads the base URL
        base_url = job["base_url"]

    resources = openai_resources(
        _Fake(),  # type: ignore[arg-type]
        io_manager_at(job["storage"]),
        prices_file=job["prices"],
        daily_budget_usd=job["budget"],
    )
    with dg.DagsterInstance.get() as instance:
        Path(job["ready"]).touch()
        deadline = time.monotonic() + WORKER_TIMEOUT
        while not Path(job["go"]).exists():
            if time.monotonic() > deadline:
                raise SystemExit("never told to go")
            time.sleep(0.005)
        result = run(resources, UP_TO_PROMPT, job["day"], instance=instance)
        classes = []
        if not result.success:
            classes = failure_classes(result, "image_prompt")
    Path(job["result"]).write_text(
        json.dumps({"success": result.success, "classes": classes}), "utf-8"
    )


if __name__ == "__main__":
    _worker(json.loads(sys.argv[1]))
