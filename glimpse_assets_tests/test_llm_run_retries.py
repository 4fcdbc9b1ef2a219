"""Run retries are for crashed runs: a run that failed in a step is not run again.

The instance is built from the repository's own `dagster.yaml` (in a temporary DAGSTER_HOME),
with one addition: a run launcher that executes a launched run synchronously in this process,
so that the test can play the queue daemon. Runs are created from the code location below as
the UI or a schedule creates them (with their remote origin), and the daemon's own tick
function, `consume_new_runs_for_automatic_reexecution`, decides what to retry. The image prompt
chain calls `FakeOpenAI`; its request count shows what each retry would have cost.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType
from dagster._core.execution.api import execute_run, execute_run_iterator
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.storage.tags import (
    PARENT_RUN_ID_TAG,
    RETRY_NUMBER_TAG,
    RUN_FAILURE_REASON_TAG,
    WILL_RETRY_TAG,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import (
    consume_new_runs_for_automatic_reexecution,
)
from dagster._utils.hosted_user_process import recon_job_from_origin

from glimpse_assets.llm.budget import BUDGET_PREFIX
from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.news.assets import image_prompt, news_digest, raw_news
from glimpse_assets.news.sources import SampleNewsSource
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_provider import OpenAITextProvider
from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets.storage.resource import ObjectStoreResource
from glimpse_assets_tests.support.fake_openai import (
    CHAT,
    FakeOpenAI,
    answer,
    bad_request,
    server_error,
)
from glimpse_assets_tests.support.fake_openai import slow as slow_reply
from glimpse_assets_tests.support.net import wait_until

MODULE = "glimpse_assets_tests.test_llm_run_retries"
REPO = Path(__file__).resolve().parents[1]
LOCATION = "glimpse_run_retries"
JOB = "image_prompt_job"
DAY = "2026-03-02"
TEXT_MODEL = "test-text-model"
SDK_RETRIES = 1
CHEAP = {TEXT_MODEL: {"input_per_million": 0.0, "output_per_million": 1.0}}
DEAR = {TEXT_MODEL: {"input_per_million": 0.0, "output_per_million": 1e9}}
URL_ANSWER = (
    "A bright harbour festival at dusk with paper lanterns over calm water, families on the "
    "pier and boats with coloured sails, as seen on https://example.com/festival today."
)


# -- the code location: the real image prompt chain, pointed at the fake by environment --------


def _resources() -> dict:
    store = ObjectStoreResource(storage_uri=dg.EnvVar("GLIMPSE_TEST_STORAGE_URI"))
    calls = LLMCalls(
        object_store=store,
        daily_budget_usd=1.0,
        prices_file=dg.EnvVar("GLIMPSE_TEST_PRICES_FILE"),
        max_retries=SDK_RETRIES,
        timeout_seconds=30.0,
    )
    client = OpenAIClient(
        api_key="sk-test-run-retries", base_url=dg.EnvVar("GLIMPSE_TEST_OPENAI_BASE_URL")
    )
    return {
        "io_manager": GlimpseIOManager(object_store=store),
        "object_store": store,
        "news_source": SampleNewsSource(),
        "text_provider": OpenAITextProvider(openai=client, calls=calls, model=TEXT_MODEL),
    }


defs = dg.Definitions(
    assets=[raw_news, news_digest, image_prompt],
    jobs=[
        dg.define_asset_job(
            JOB,
            selection=[raw_news, news_digest, image_prompt],
            executor_def=dg.in_process_executor,
        )
    ],
    resources=_resources(),
)


# -- the platform: instance, workspace, daemon ticks ----------------------------------------


@dataclass
class Platform:
    fake: FakeOpenAI
    instance: dg.DagsterInstance
    workspace: WorkspaceProcessContext
    home: Path
    storage: Path

    def create_run(self) -> dg.DagsterRun:
        """A run as the UI or a schedule creates it: with the job's remote and code origins."""
        location = self.workspace.create_request_context().get_code_location(LOCATION)
        remote_job = location.get_repository("__repository__").get_full_job(JOB)
        return self.instance.create_run_for_job(
            job_def=defs.resolve_job_def(JOB),
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            tags={"dagster/partition": DAY},
        )

    def submit_and_run(self, run: dg.DagsterRun) -> None:
        self.instance.submit_run(run.run_id, self.workspace.create_request_context())
        self.dequeue()

    def dequeue(self) -> None:
        """What the queue daemon does: launch every queued run (here, executed at once)."""
        queued = self.instance.get_runs(dg.RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
        for run in queued:
            self.instance.launch_run(run.run_id, self.workspace.create_request_context())

    def retry_tick(self) -> None:
        """One tick of the daemon's automatic re-execution, over every failed run."""
        records = self.instance.get_run_records(dg.RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
        list(
            consume_new_runs_for_automatic_reexecution(
                self.workspace, records, logging.getLogger(__name__)
            )
        )

    def runs(self) -> list[dg.DagsterRun]:
        return list(reversed(self.instance.get_runs()))  # oldest first

    def engine_messages(self, run_id: str) -> list[str]:
        return [
            record.message
            for record in self.instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
        ]


def write_prices(path: Path, chat: dict) -> None:
    path.write_text(json.dumps({"chat": chat}), "utf-8")


@pytest.fixture
def platform(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = (REPO / "dagster.yaml").read_text("utf-8")
    config += (
        "\n# test only: launched runs execute synchronously in the test process\n"
        "run_launcher:\n"
        "  module: dagster._core.launcher.sync_in_memory_run_launcher\n"
        "  class: SyncInMemoryRunLauncher\n"
    )
    (home / "dagster.yaml").write_text(config, "utf-8")
    storage, prices = tmp_path / "storage", tmp_path / "prices.json"
    write_prices(prices, CHEAP)
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=MODULE, attribute="defs", working_directory=str(REPO)),
        location_name=LOCATION,
    )
    with FakeOpenAI() as fake:
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        monkeypatch.setenv("GLIMPSE_TEST_OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("GLIMPSE_TEST_STORAGE_URI", str(storage))
        monkeypatch.setenv("GLIMPSE_TEST_PRICES_FILE", str(prices))
        with (
            dg.DagsterInstance.from_config(str(home)) as instance,
            WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace,
        ):
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
            yield Platform(fake, instance, workspace, home, storage)


# -- a failed step: one run, one failure, one notification --------------------------------------


@pytest.mark.parametrize(
    ("fault", "dear", "requests"),
    [
        pytest.param(bad_request(), False, 1, id="400"),
        pytest.param(server_error(500), False, 1 + SDK_RETRIES, id="500-after-sdk-retries"),
        pytest.param(answer(URL_ANSWER), False, 1, id="rejected-answer"),
        pytest.param(None, True, 0, id="budget-stop"),
    ],
)
@pytest.mark.slow
def test_a_run_that_failed_in_a_step_is_not_retried(platform, tmp_path, fault, dear, requests):
    if fault is not None:
        platform.fake.always(CHAT, fault)
    if dear:
        write_prices(tmp_path / "prices.json", DEAR)
    run = platform.create_run()
    platform.submit_and_run(run)

    failed = platform.instance.get_run_by_id(run.run_id)
    assert failed.status == DagsterRunStatus.FAILURE
    assert failed.tags[RUN_FAILURE_REASON_TAG] == "STEP_FAILURE"
    assert failed.tags[WILL_RETRY_TAG] == "false"

    for _ in range(3):  # several daemon ticks: nothing is ever retried
        platform.retry_tick()
        platform.dequeue()

    assert [r.run_id for r in platform.runs()] == [run.run_id]  # one run, so one notification
    assert platform.fake.count(CHAT) == requests
    assert any(
        "retry_on_asset_or_op_failure set to false" in (message or "")
        for message in platform.engine_messages(run.run_id)
    )


# -- a crashed run: retried, from failure ------------------------------------------------------


@pytest.mark.process
def test_a_crashed_run_is_retried_from_failure_and_sends_only_the_interrupted_call_again(
    platform, tmp_path
):
    platform.fake.script(CHAT, slow_reply(seconds=15))  # the call the crash interrupts
    run = platform.create_run()
    log = tmp_path / "worker.log"
    with open(log, "w", encoding="utf-8") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", MODULE, run.run_id],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_until(  # the worker is waiting for its answer...
        lambda: platform.fake.count(CHAT) > 0,
        "the run worker's call to the provider",
        process=worker,
        log=log,
        timeout=120,
        interval=0.02,
    )
    worker.kill()  # ... when it is killed
    worker.wait()
    assert platform.instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED

    # A run worker started again for that run (as a cluster restarts a crashed pod) finds it
    # already started, and Dagster's engine marks it failed: not a step failure.
    started = platform.instance.get_run_by_id(run.run_id)
    recon_job = recon_job_from_origin(started.job_code_origin)
    list(execute_run_iterator(recon_job, started, platform.instance))  # what a run worker runs
    crashed = platform.instance.get_run_by_id(run.run_id)
    assert crashed.status == DagsterRunStatus.FAILURE
    assert crashed.tags[RUN_FAILURE_REASON_TAG] == "RUN_WORKER_RESTART"
    assert crashed.tags[WILL_RETRY_TAG] == "true"

    platform.retry_tick()
    first, retry = platform.runs()
    assert first.run_id == run.run_id
    assert (retry.tags[PARENT_RUN_ID_TAG], retry.tags[RETRY_NUMBER_TAG]) == (run.run_id, "1")
    assert retry.status == DagsterRunStatus.QUEUED
    platform.dequeue()

    assert platform.instance.get_run_by_id(retry.run_id).status == DagsterRunStatus.SUCCESS
    # From failure: raw_news and news_digest were not run again, image_prompt was.
    executed = {
        record.step_key
        for record in platform.instance.all_logs(retry.run_id, of_type=DagsterEventType.STEP_START)
    }
    assert executed == {"image_prompt"}
    assert platform.fake.count(CHAT) == 2  # the interrupted call, sent once more
    for _ in range(2):
        platform.retry_tick()
        platform.dequeue()
    assert len(platform.runs()) == 2

    # The killed worker never settled its reservation: it stays counted (it may have been
    # paid); the retry's call is settled to its cost.
    ledger = ObjectStoreResource(storage_uri=str(platform.storage)).records(BUDGET_PREFIX)
    (name,) = ledger.names()
    record = ledger.get(name)
    assert [entry["run_id"] for entry in record["reserved"].values()] == [run.run_id]
    assert record["paid_calls"] == 1


if __name__ == "__main__":  # a run worker for one run: python -m ... <run id>
    with dg.DagsterInstance.get() as _instance:
        _run = _instance.get_run_by_id(sys.argv[1])
        execute_run(recon_job_from_origin(_run.job_code_origin), _run, _instance)
