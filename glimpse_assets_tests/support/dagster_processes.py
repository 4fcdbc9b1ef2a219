"""A real `dagster-daemon` and `dagster-webserver` on a fresh instance, and backfills launched as
the UI launches them (GraphQL `launchPartitionBackfill`), for test_ui_backfill.py and
benchmarks/backfill.py.

    home, storage = tmp_path / "dagster_home", tmp_path / "storage"
    write_instance_yaml(home, None)                    # the repository's dagster.yaml
    env = daemon_env(home, storage, "2026-03-01")      # offline, GLIMPSE_START_DATE set
    init_instance(env)
    with running_daemon(env, home, tmp_path / "daemon.log") as instance:
        with running_webserver(env, tmp_path / "webserver.log") as url:
            paths = [node["assetKey"]["path"] for node in materializable_assets(url)]
            backfill_id = launch_backfill(url, paths, ["2026-03-01", "2026-03-02"])
        backfill = wait_for_backfill(instance, backfill_id, timeout=300)

Both processes run in their own process group and are stopped on the way out, whatever happens
(SIGTERM, then SIGKILL of what is left in the group). A backfill is read back as a
`dagster_compat.BackfillRecord` (plain values; Dagster's own record is not public API).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import requests
import yaml

from glimpse_assets.dagster_compat import BACKFILL_ID_TAG, BackfillRecord, backfill_record
from glimpse_assets_tests.support.net import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKSPACE = REPO / "workspace.yaml"
READY_TIMEOUT_SECONDS = 180
POLL_SECONDS = 1.0

ASSETS_QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    isMaterializable
    partitionKeys
  }
}
"""
LOCATIONS_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message causes { message } } }
      }
    }
  }
}
"""
LAUNCH_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""


class DagsterProcessError(RuntimeError):
    """The webserver refused a request, the code location did not load, or a backfill did not
    finish in time; the message says which."""


# -- the instance and its processes -----------------------------------------------------------


def write_instance_yaml(home: Path, max_concurrent_runs: int | None) -> dict:
    """The repository's dagster.yaml in `home` (created), with `max_concurrent_runs` if given;
    returns what was added."""
    home.mkdir(parents=True)
    if max_concurrent_runs is None:
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        return {}
    added = {"concurrency": {"runs": {"max_concurrent_runs": max_concurrent_runs}}}
    config = yaml.safe_load((REPO / "dagster.yaml").read_text()) or {}
    # dagster.yaml sets `concurrency.pools`, which rules out `run_queue.max_concurrent_runs`.
    config.setdefault("concurrency", {}).setdefault("runs", {}).update(added["concurrency"]["runs"])
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return added


def daemon_env(home: Path, storage: Path, start: str) -> dict[str, str]:
    """This process's environment with the instance at `home`, storage at `storage`, the
    partitions starting at `start`, and every outside service offline."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "GLIMPSE_START_DATE": start,  # so that a range starting before 2026 has its partitions
        "GLIMPSE_STORAGE_URI": str(storage),
        "GLIMPSE_PROVIDER": "offline",
        "GLIMPSE_NEWS_SOURCE": "sample",
        "GLIMPSE_RIDES_SOURCE": "simulated",
        "GLIMPSE_PUBLISHER": "outbox",
        "GLIMPSE_NOTIFIER": "log",
    }


def init_instance(env: dict[str, str]) -> None:
    """Create the SQLite schema once: processes starting together on an empty DAGSTER_HOME would
    race to migrate it."""
    init = [sys.executable, "-c", "import dagster; dagster.DagsterInstance.get()"]
    subprocess.run(init, cwd=REPO, env=env, check=True, capture_output=True)


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`command` in its own process group (see `stop`), its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, grace_seconds: float = 90) -> int:
    """SIGTERM (Dagster's clean shutdown), then SIGKILL if it is still there after the grace;
    then SIGKILL whatever it left in its process group (a run worker still going when a wait
    timed out, a code server still shutting down)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.returncode


@contextmanager
def running_daemon(env: dict[str, str], home: Path, log: Path) -> Iterator[dg.DagsterInstance]:
    """`dagster-daemon run` on the instance at `home`, ready (its backfill and run queue daemons
    have beaten), and that instance; the daemon is stopped on the way out, whatever happens."""
    daemon = start([str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)], env, log)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            wait_until(
                lambda: daemon_ready(instance),
                "dagster-daemon",
                process=daemon,
                log=log,
                timeout=READY_TIMEOUT_SECONDS,
                interval=POLL_SECONDS,
            )
            yield instance
    finally:
        print(f"daemon stopped with exit code {stop(daemon)}")


@contextmanager
def running_webserver(env: dict[str, str], log: Path) -> Iterator[str]:
    """`dagster-webserver` on a free port of 127.0.0.1, with the code location loaded, and its
    GraphQL URL; the webserver is stopped on the way out, whatever happens."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    command = [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1"]
    webserver = start([*command, "-p", str(port)], env, log)
    try:
        wait_until(
            lambda: workspace_loaded(url),
            "dagster-webserver",
            process=webserver,
            log=log,
            timeout=READY_TIMEOUT_SECONDS,
            interval=POLL_SECONDS,
        )
        yield url
    finally:
        stop(webserver)


def daemon_ready(instance: dg.DagsterInstance) -> bool:
    beating = set(instance.get_daemon_heartbeats())
    return {"BACKFILL", "QUEUED_RUN_COORDINATOR"} <= beating


# -- the webserver's GraphQL API, as the UI uses it -------------------------------------------


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=120)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise DagsterProcessError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def workspace_loaded(url: str) -> bool:
    try:
        workspace = graphql(url, LOCATIONS_QUERY)["workspaceOrError"]
    except (requests.RequestException, DagsterProcessError):
        return False
    entries = workspace.get("locationEntries") or []
    for entry in entries:
        error = entry.get("locationOrLoadError") or {}
        if error.get("__typename") == "PythonError":
            messages = [error["message"], *(cause["message"] for cause in error["causes"])]
            raise DagsterProcessError(
                f"code location {entry['name']} failed: {messages[-1].strip()}"
            )
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def materializable_assets(url: str) -> list[dict]:
    nodes = graphql(url, ASSETS_QUERY)["assetNodes"]
    return [node for node in nodes if node["isMaterializable"]]


def launch_backfill(
    url: str,
    asset_paths: list[list[str]],
    days: list[str],
    run_config: dict | None = None,
    title: str | None = None,
) -> str:
    """The UI's `launchPartitionBackfill`: these assets over these days, one backfill; its id."""
    params = {
        "assetSelection": [{"path": path} for path in asset_paths],
        "partitionNames": days,
        "fromFailure": False,
        "title": title or f"{len(days)} days from {days[0]}",
    }
    if run_config is not None:
        params["runConfigData"] = run_config
    result = graphql(url, LAUNCH_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise DagsterProcessError(f"launchPartitionBackfill: {result}")
    return result["backfillId"]


# -- what a backfill did ----------------------------------------------------------------------


def wait_for_backfill(
    instance: dg.DagsterInstance, backfill_id: str, timeout: float
) -> BackfillRecord:
    """The backfill once the daemon is done with it (any end, success or not)."""
    seen: list[BackfillRecord | None] = [None]

    def finished() -> bool:
        seen[0] = backfill_record(instance, backfill_id)
        return seen[0] is not None and seen[0].finished

    wait_until(finished, f"backfill {backfill_id}", timeout=timeout, interval=POLL_SECONDS)
    assert seen[0] is not None
    return seen[0]


def backfill_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id})))


def run_events(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> dict[str, list]:
    return {run.run_id: list(instance.all_logs(run.run_id)) for run in runs}


def of_type(events: list, event_type: dg.DagsterEventType) -> list:
    return [e for e in events if e.dagster_event and e.dagster_event.event_type == event_type]


def failure_messages(events_by_run: dict[str, list]) -> list[str]:
    """One line per failed step of the runs: the run, the step and the first line of its
    error's first cause that is not Dagster's own wrapper."""
    messages = []
    for run_id, events in events_by_run.items():
        for event in of_type(events, dg.DagsterEventType.STEP_FAILURE):
            error = event.dagster_event.step_failure_data.error
            while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
                error = error.cause
            first_line = (error.message or "").strip().splitlines()[:1]
            messages.append(f"run {run_id[:8]} step {event.step_key}: {' '.join(first_line)}")
    return messages


def target_partitions(backfill: BackfillRecord) -> dict[str, list[str]]:
    """The days the backfill targets, by asset."""
    return backfill.targeted


def not_materialised(backfill: BackfillRecord) -> dict[str, list[str]]:
    """Target days the backfill did not materialise, by asset (none when it succeeded)."""
    missing: dict[str, list[str]] = {}
    for asset, days in backfill.targeted.items():
        if left := sorted(set(days) - set(backfill.materialised.get(asset, []))):
            missing[asset] = left
    return missing
