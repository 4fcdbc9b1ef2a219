"""A backfill of every Glimpse asset (every materializable asset of every domain, with their
asset checks) over N daily partitions, launched the way a user launches one from the Dagster UI
and executed by the real Dagster daemon: how long it takes, against a one-day backfill of the
same assets through the same path, and where the time goes.

What runs, each session in a fresh temporary DAGSTER_HOME (the repository's dagster.yaml, plus
any instance setting given on the command line, printed) and a fresh temporary storage folder,
offline (GLIMPSE_PROVIDER=offline, the sample news, simulated rides, the outbox publisher),
with GLIMPSE_START_DATE set to --start so that any range of past days has its partitions:

1. The instance is created once (its SQLite schema), before anything else starts.
2. `dagster-daemon run -w workspace.yaml` starts, with the default run launcher (one
   subprocess per run); runs use the code location's executor (Glimpse's: in-process, every
   step in the run's own process) unless --run-config says otherwise. The benchmark waits for
   the backfill and run queue daemons' first heartbeats.
3. `dagster-webserver -w workspace.yaml` starts on 127.0.0.1; the benchmark asks its GraphQL API
   for every materializable asset and sends the UI's own `launchPartitionBackfill` mutation
   (asset selection + partition names), then stops the webserver. Dagster refuses a backfill
   whose root assets have different partitions definitions (the stories days run to today,
   the news days end with the last complete one), so, as a user in the UI must, the benchmark
   launches one backfill per lineage, one right after the other: today news, publish, rides,
   search and sms (root raw_news), and stories (root strava_activities).
4. The benchmark polls the instance until every backfill reaches a terminal status, then stops
   the daemon with SIGTERM (its clean shutdown).

Sessions, in this order, in one invocation (so that the ratio compares runs on the same machine
under the same load): the yardstick, a backfill of the first day alone (skipped with
--no-day-run), then `python -m glimpse_assets.run --day FIRST` (every job of the day in one
process, no daemon: the earlier yardstick), then the N-day backfill.

The measurement:
- wall seconds: the backfills' own timestamps, from the first submission (`backfill_timestamp`,
  set by the webserver) to the last completion (`backfill_end_timestamp`, set by the daemon's
  backfill iteration that sees the last run finish). The backfill daemon iterates every 30 s
  (DEFAULT_DAEMON_INTERVAL_SECONDS, no instance setting changes it in Dagster 1.13), so wall
  times move in steps of up to 30 s: one wait for the first iteration, one per group of runs
  that has to wait for an earlier group's materializations (another backfill policy, another
  partitions definition, a non-identity partition mapping), one to notice the end, and one more
  when a targeted partition is left without a status (the rides_report_page days after the
  range that are skipped: Dagster then waits for an iteration without progress).
- ratio_to_day_run = wall / the one-day backfill's wall (issue 16's goals: 25 for 365 days, 8
  for 30, in `goal_ratio` and `goal_met`); ratio_to_in_process_day = wall / the in-process day.
- compute seconds: the sum, over every successful step of every run of the backfill (asset and
  asset check steps), of the `duration_ms` of its STEP_SUCCESS event: the time a step spends
  inside Dagster's step execution (loading inputs, the asset's own code, storing outputs), not
  starting its process. Two steps running side by side count twice.
- overhead seconds = wall - compute: what orchestration adds (daemon iterations, the run queue,
  run and step processes starting and importing the code location), and per partition-day. With
  parallel runs it can be small or even negative: steps that share the cores with other steps
  and with process start-ups take longer, and their durations add up past the wall time. So the
  JSON also has
- no_step_running seconds: wall minus the time during which at least one step was executing (the
  union of STEP_START..STEP_SUCCESS intervals): time when no asset or check code ran at all.
- profile (printed, and in the JSON): mean seconds per run in the run queue (enqueued to
  launched), starting the run worker (launched to RUN_START), and per step starting its process
  (STEP_WORKER_STARTING to STEP_START; none with an in-process executor); step seconds per day
  by step; the waves of runs (runs created by one daemon iteration: when, how many, how many
  days each, which assets, when the last ended); and the time from the last run's end to the
  backfill's end.

The last line of stdout is a JSON object with the numbers. Exit status 1, with the failed steps'
messages, if the backfill did not complete successfully; 2 if the benchmark could not run it (a
code location that does not load, a day that is not a partition, a timeout). The daemon also runs
the code location's schedules: a benchmark spanning 06:00 or 08:00 UTC shares the cores with a
scheduled run (not counted: only runs tagged with the backfills are).

Usage (from the repository root, with the virtualenv's python):
  python benchmarks/backfill.py --days 30 [--start 2026-01-01] [--max-concurrent-runs 4]
      [--run-config '{"execution": {"config": {"in_process": {}}}}'] [--no-day-run]
      [--timeout S] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import requests
import yaml
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.tags import BACKFILL_ID_TAG

REPO = Path(__file__).resolve().parent.parent
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
    partitionDefinition { description }
    dependencyKeys { path }
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


class BenchmarkError(RuntimeError):
    """The benchmark could not set up or the backfill did not succeed; the message says why."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, required=True, help="number of daily partitions")
    parser.add_argument("--start", default="2026-01-01", help="first day (YYYY-MM-DD)")
    parser.add_argument(
        "--max-concurrent-runs",
        type=int,
        default=None,
        help="instance setting concurrency.runs.max_concurrent_runs (default: Dagster's, 10)",
    )
    parser.add_argument(
        "--run-config",
        type=json.loads,
        default=None,
        help="run config for every run of the backfill, as JSON (the launchpad's runConfigData), "
        'e.g. \'{"execution": {"config": {"in_process": {}}}}\'',
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait (default 600 + 120 a day)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the daemon and every run (repeatable), printed; e.g. "
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true",
    )
    parser.add_argument(
        "--no-day-run",
        action="store_true",
        help="skip the one-day backfill (and the in-process day) measured as the yardstick",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    if bad := [item for item in args.env if "=" not in item]:
        parser.error(f"--env takes NAME=VALUE, got {bad[0]!r}")
    args.env = dict(item.split("=", 1) for item in args.env)
    try:
        date.fromisoformat(args.start)
    except ValueError:
        parser.error(f"--start must be a date like 2026-01-01, got {args.start!r}")
    return args


def partition_days(start: str, days: int) -> list[str]:
    first = date.fromisoformat(start)
    return [(first + timedelta(days=n)).isoformat() for n in range(days)]


def write_instance_yaml(home: Path, max_concurrent_runs: int | None) -> dict:
    """The repository's dagster.yaml, with the benchmark's additions; returns the additions."""
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


def benchmark_env(home: Path, storage: Path, start: str) -> dict[str, str]:
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
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen, grace_seconds: float = 90) -> int:
    """SIGTERM (Dagster's clean shutdown), then SIGKILL if it is still there after the grace."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def wait_until(what: str, ready, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not ready():
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise BenchmarkError(f"{what} exited with {process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{what} was not ready after {READY_TIMEOUT_SECONDS} s; see {log}")
        time.sleep(POLL_SECONDS)


def daemon_ready(instance: dg.DagsterInstance) -> bool:
    beating = set(instance.get_daemon_heartbeats())
    return {"BACKFILL", "QUEUED_RUN_COORDINATOR"} <= beating


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=120)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise BenchmarkError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def workspace_loaded(url: str) -> bool:
    try:
        workspace = graphql(url, LOCATIONS_QUERY)["workspaceOrError"]
    except (requests.RequestException, BenchmarkError):
        return False
    entries = workspace.get("locationEntries") or []
    for entry in entries:
        error = entry.get("locationOrLoadError") or {}
        if error.get("__typename") == "PythonError":
            messages = [error["message"], *(cause["message"] for cause in error["causes"])]
            raise BenchmarkError(f"code location {entry['name']} failed: {messages[-1].strip()}")
    return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)


def materializable_assets(url: str) -> list[dict]:
    nodes = graphql(url, ASSETS_QUERY)["assetNodes"]
    return [node for node in nodes if node["isMaterializable"]]


def check_days_exist(assets: list[dict], days: list[str]) -> None:
    """Dagster backfills only the existing partitions of a request: say so instead."""
    for node in assets:
        missing = sorted(set(days) - set(node["partitionKeys"]))
        if missing:
            name = "/".join(node["assetKey"]["path"])
            raise BenchmarkError(f"{name} has no partition {', '.join(missing)}")


def launch_backfill(
    url: str, asset_paths: list[list[str]], days: list[str], run_config: dict | None
) -> str:
    params = {
        "assetSelection": [{"path": path} for path in asset_paths],
        "partitionNames": days,
        "fromFailure": False,
        "title": f"benchmark: {len(days)} days from {days[0]}",
    }
    if run_config is not None:
        params["runConfigData"] = run_config
    result = graphql(url, LAUNCH_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise BenchmarkError(f"launchPartitionBackfill: {result}")
    return result["backfillId"]


def backfill_selections(assets: list[dict]) -> list[list[dict]]:
    """The materializable assets split as a user has to split them in the UI: Dagster launches a
    backfill only if every asset at its root has the same partitions definition (the search and
    stories days run to today, the others end with the last complete day). Assets are grouped by
    lineage (connected through dependencies within the selection); a lineage whose roots differ
    is an error. Today: one backfill of news, publish, rides, search and sms (root raw_news), one
    of stories (root strava_activities)."""
    by_key = {tuple(node["assetKey"]["path"]): node for node in assets}
    group = {key: key for key in by_key}

    def find(key: tuple) -> tuple:
        while group[key] != key:
            group[key] = group[group[key]]
            key = group[key]
        return key

    for key, node in by_key.items():
        for dep in node["dependencyKeys"]:
            if (parent := tuple(dep["path"])) in by_key:
                group[find(key)] = find(parent)
    lineages: dict[tuple, list[dict]] = {}
    for key in sorted(by_key):
        lineages.setdefault(find(key), []).append(by_key[key])
    for members in lineages.values():
        keys = {tuple(node["assetKey"]["path"]) for node in members}
        roots = [n for n in members if not {tuple(d["path"]) for d in n["dependencyKeys"]} & keys]
        defs = {(n["partitionDefinition"] or {}).get("description") for n in roots}
        if len(defs) > 1:
            names = ", ".join("/".join(n["assetKey"]["path"]) for n in roots)
            raise BenchmarkError(f"the roots {names} have different partitions definitions")
    return sorted(lineages.values(), key=len, reverse=True)


def submit_from_ui(
    env: dict[str, str], workdir: Path, days: list[str], run_config: dict | None
) -> tuple[list[str], Counter]:
    """Start the webserver, launch the backfills (one per lineage, see `backfill_selections`)
    through its GraphQL API, one right after the other, stop the webserver."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    log = workdir / "webserver.log"
    command = [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1"]
    webserver = start([*command, "-p", str(port)], env, log)
    try:
        wait_until("dagster-webserver", lambda: workspace_loaded(url), webserver, log)
        assets = materializable_assets(url)
        check_days_exist(assets, days)
        backfill_ids = [
            launch_backfill(url, [node["assetKey"]["path"] for node in selection], days, run_config)
            for selection in backfill_selections(assets)
        ]
    finally:
        stop(webserver)
    return backfill_ids, Counter(node["groupName"] for node in assets)


def wait_for_backfill(
    instance: dg.DagsterInstance, backfill_id: str, timeout: float
) -> PartitionBackfill:
    deadline = time.monotonic() + timeout
    while True:
        backfill = instance.get_backfill(backfill_id)
        if backfill is not None and backfill.status not in (
            BulkActionStatus.REQUESTED,
            BulkActionStatus.CANCELING,
            BulkActionStatus.FAILING,
        ):
            return backfill
        if time.monotonic() > deadline:
            raise BenchmarkError(f"backfill {backfill_id} not finished after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def backfill_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill_id})))


def run_events(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> dict[str, list]:
    return {run.run_id: list(instance.all_logs(run.run_id)) for run in runs}


def of_type(events: list, event_type: dg.DagsterEventType) -> list:
    return [e for e in events if e.dagster_event and e.dagster_event.event_type == event_type]


def compute_seconds(events_by_run: dict[str, list]) -> float:
    """Summed STEP_SUCCESS durations of every step of every run."""
    return sum(
        e.dagster_event.event_specific_data.duration_ms / 1000
        for events in events_by_run.values()
        for e in of_type(events, dg.DagsterEventType.STEP_SUCCESS)
    )


def step_intervals(events_by_run: dict[str, list]) -> list[tuple[float, float]]:
    """(STEP_START, STEP_SUCCESS) timestamps of every step that succeeded."""
    intervals = []
    for events in events_by_run.values():
        started = {e.step_key: e.timestamp for e in of_type(events, dg.DagsterEventType.STEP_START)}
        for end in of_type(events, dg.DagsterEventType.STEP_SUCCESS):
            if end.step_key in started:
                intervals.append((started[end.step_key], end.timestamp))
    return intervals


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Seconds during which at least one step was executing (the union of the intervals)."""
    busy, reached = 0.0, float("-inf")
    for begin, end in sorted(intervals):
        if end > reached:
            busy += end - max(begin, reached)
            reached = end
    return busy


def first_timestamp(events: list, event_type: dg.DagsterEventType) -> float | None:
    found = of_type(events, event_type)
    return found[0].timestamp if found else None


def mean_gap(pairs: list[tuple[float | None, float | None]]) -> float | None:
    gaps = [end - begin for begin, end in pairs if begin is not None and end is not None]
    return round(statistics.mean(gaps), 2) if gaps else None


def time_breakdown(runs: list[dg.DagsterRun], events_by_run: dict[str, list]) -> dict:
    """Mean seconds per run in the queue (enqueued to launched) and starting its worker (launched
    to RUN_START), and per step starting its process (STEP_WORKER_STARTING to STEP_START)."""
    T = dg.DagsterEventType
    queued, starting, steps = [], [], []
    for run in runs:
        events = events_by_run[run.run_id]
        launched = first_timestamp(events, T.RUN_STARTING)
        queued.append((first_timestamp(events, T.RUN_ENQUEUED), launched))
        starting.append((launched, first_timestamp(events, T.RUN_START)))
        step_worker = {e.step_key: e.timestamp for e in of_type(events, T.STEP_WORKER_STARTING)}
        steps += [(step_worker.get(e.step_key), e.timestamp) for e in of_type(events, T.STEP_START)]
    return {
        "queued_s_per_run": mean_gap(queued),
        "worker_start_s_per_run": mean_gap(starting),
        "step_process_start_s_per_step": mean_gap(steps),
        "steps": sum(len(of_type(e, T.STEP_SUCCESS)) for e in events_by_run.values()),
    }


def failure_messages(events_by_run: dict[str, list]) -> list[str]:
    messages = []
    for run_id, events in events_by_run.items():
        for event in of_type(events, dg.DagsterEventType.STEP_FAILURE):
            error = event.dagster_event.step_failure_data.error
            while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
                error = error.cause
            first_line = (error.message or "").strip().splitlines()[:1]
            messages.append(f"run {run_id[:8]} step {event.step_key}: {' '.join(first_line)}")
    return messages


def stored_objects(storage: Path, asset_paths: list[list[str]]) -> dict[str, int]:
    """Objects stored per asset: files under <storage>/<asset key path>/."""
    counts = {}
    for path in asset_paths:
        folder = storage.joinpath(*path)
        files = [f for f in folder.rglob("*") if f.is_file()] if folder.is_dir() else []
        counts["/".join(path)] = len(files)
    return counts


def summarize(
    days: list[str],
    backfills: list[PartitionBackfill],
    runs: list[dg.DagsterRun],
    events_by_run: dict[str, list],
    objects: dict[str, int],
) -> dict:
    submitted = min(backfill.backfill_timestamp for backfill in backfills)
    ended = [backfill.backfill_end_timestamp or time.time() for backfill in backfills]
    wall = max(ended) - submitted
    compute = compute_seconds(events_by_run)
    statuses = Counter(run.status for run in runs)
    return {
        "days": len(days),
        "start": days[0],
        "backfills": len(backfills),
        "runs_launched": len(runs),
        "runs_succeeded": statuses[dg.DagsterRunStatus.SUCCESS],
        "runs_failed": statuses[dg.DagsterRunStatus.FAILURE],
        "backfill_status": worst_status(backfills).value,
        "wall_s": round(wall, 2),
        "compute_s": round(compute, 2),
        "overhead_s": round(wall - compute, 2),
        "overhead_s_per_day": round((wall - compute) / len(days), 2),
        "no_step_running_s": round(wall - busy_seconds(step_intervals(events_by_run)), 2),
        "stored_objects": objects,
        "not_materialised": {k: v for b in backfills for k, v in not_materialised(b).items()},
    }


def worst_status(backfills: list[PartitionBackfill]) -> BulkActionStatus:
    statuses = [backfill.status for backfill in backfills]
    ok = BulkActionStatus.COMPLETED_SUCCESS
    return next((status for status in statuses if status != ok), ok)


def not_materialised(backfill: PartitionBackfill) -> dict[str, list[str]]:
    """Target partitions the backfill did not materialise, by asset: a UI backfill of days
    D1..Dn also targets rides_report_page for the 7 days after Dn (their history window reads
    D1..Dn), and those whose rides_report was never made are skipped, not built."""
    data = backfill.asset_backfill_data
    if data is None:
        return {}
    missing: dict[str, list[str]] = {}
    for key in data.target_subset.asset_keys:
        target = data.target_subset.get_partitions_subset(key).get_partition_keys()
        done = set(data.materialized_subset.get_partitions_subset(key).get_partition_keys())
        if left := sorted(set(target) - done):
            missing[key.to_user_string()] = left
    return missing


def only_later_pages_missing(result: dict, days: list[str]) -> bool:
    missing = result["not_materialised"]
    return set(missing) <= {"rides_report_page"} and all(
        day > days[-1] for day in missing.get("rides_report_page", [])
    )


def succeeded(result: dict, days: list[str]) -> bool:
    return result["runs_failed"] == 0 and (
        result["backfill_status"] == BulkActionStatus.COMPLETED_SUCCESS.value
        or only_later_pages_missing(result, days)
    )


# -- where the time goes -------------------------------------------------------------------------

# Runs that the backfill daemon creates in one iteration are created within a second or two of
# each other; iterations are 30 s apart.
WAVE_GAP_SECONDS = 10


def run_assets(run: dg.DagsterRun) -> list[str]:
    return sorted(key.to_user_string() for key in run.asset_selection or ())


def waves(
    instance: dg.DagsterInstance, runs: list[dg.DagsterRun], events_by_run: dict, submitted: float
) -> list[dict]:
    """The runs grouped by the daemon iteration that created them: when (seconds after the
    submission), how many runs, over how many days each, which assets, and when the last of
    them ended."""
    records = {
        r.dagster_run.run_id: r
        for r in instance.get_run_records(
            filters=dg.RunsFilter(run_ids=[run.run_id for run in runs])
        )
    }
    created = sorted(runs, key=lambda run: records[run.run_id].create_timestamp.timestamp())
    grouped: list[list[dg.DagsterRun]] = []
    last = None
    for run in created:
        at = records[run.run_id].create_timestamp.timestamp()
        if last is None or at - last > WAVE_GAP_SECONDS:
            grouped.append([])
        grouped[-1].append(run)
        last = at
    result = []
    for group in grouped:
        ends = [
            first_timestamp(events_by_run[run.run_id], dg.DagsterEventType.RUN_SUCCESS)
            or first_timestamp(events_by_run[run.run_id], dg.DagsterEventType.RUN_FAILURE)
            for run in group
        ]
        sizes = [len(run_partitions(run)) for run in group]
        result.append(
            {
                "created_at_s": round(
                    records[group[0].run_id].create_timestamp.timestamp() - submitted, 1
                ),
                "runs": len(group),
                "days_per_run": sorted(set(sizes)),
                "assets": sorted({asset for run in group for asset in run_assets(run)}),
                "last_run_ended_at_s": round(max(e for e in ends if e) - submitted, 1)
                if any(ends)
                else None,
            }
        )
    return result


def run_partitions(run: dg.DagsterRun) -> list[str]:
    tags = run.tags
    first = tags.get("dagster/asset_partition_range_start")
    if first is None:
        return [tags["dagster/partition"]] if "dagster/partition" in tags else []
    last = tags["dagster/asset_partition_range_end"]
    return [d for d in _days_between(first, last)]


def _days_between(first: str, last: str) -> list[str]:
    day, end, out = date.fromisoformat(first), date.fromisoformat(last), []
    while day <= end:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def compute_by_asset(events_by_run: dict[str, list], days: int) -> dict[str, float]:
    """Summed step seconds by step (asset or check), per day of the backfill."""
    totals: Counter = Counter()
    for events in events_by_run.values():
        for e in of_type(events, dg.DagsterEventType.STEP_SUCCESS):
            totals[e.step_key] += e.dagster_event.event_specific_data.duration_ms / 1000
    return {key: round(total / days, 3) for key, total in totals.most_common()}


# -- one session: a daemon, the backfills, their records ------------------------------------------


def run_session(
    args: argparse.Namespace, workdir: Path, days: list[str]
) -> tuple[dict, list[str], dict]:
    """A fresh DAGSTER_HOME and storage under `workdir`, a daemon, the backfills of `days`
    launched from the UI's API; returns the summary, the step failures and the profile."""
    home, storage = workdir / "dagster_home", workdir / "storage"
    write_instance_yaml(home, args.max_concurrent_runs)
    env = benchmark_env(home, storage, args.start) | args.env
    init_instance(env)
    log = workdir / "daemon.log"
    daemon = start([str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)], env, log)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            wait_until("dagster-daemon", lambda: daemon_ready(instance), daemon, log)
            backfill_ids, groups = submit_from_ui(env, workdir, days, args.run_config)
            print(
                f"{len(days)} days, {days[0]}..{days[-1]}: backfills {backfill_ids}, "
                f"{dict(groups)} assets"
            )
            timeout = args.timeout or 600 + 120 * len(days)
            backfills = [wait_for_backfill(instance, bid, timeout) for bid in backfill_ids]
            runs = [run for bid in backfill_ids for run in backfill_runs(instance, bid)]
            events_by_run = run_events(instance, runs)
            submitted = min(backfill.backfill_timestamp for backfill in backfills)
            timeline = waves(instance, runs, events_by_run, submitted)
    finally:
        print(f"daemon stopped with exit code {stop(daemon)}")
    paths = [key.path for backfill in backfills for key in backfill.asset_selection]
    result = summarize(days, backfills, runs, events_by_run, stored_objects(storage, paths))
    profile = {
        **time_breakdown(runs, events_by_run),
        "compute_s_per_day_by_step": compute_by_asset(events_by_run, len(days)),
        "waves": timeline,
        "last_run_end_to_backfill_end_s": round(
            max(b.backfill_end_timestamp or time.time() for b in backfills)
            - submitted
            - max(w["last_run_ended_at_s"] or 0 for w in timeline),
            1,
        ),
    }
    return result, failure_messages(events_by_run), profile


def in_process_day(args: argparse.Namespace, workdir: Path, day: str) -> float:
    """Seconds of `python -m glimpse_assets.run --day DAY` (every job of the day in one process,
    no daemon, no run queue), on a fresh home and storage: the issue's earlier yardstick."""
    home, storage = workdir / "dagster_home", workdir / "storage"
    write_instance_yaml(home, None)
    env = benchmark_env(home, storage, args.start) | args.env
    init_instance(env)
    began = time.perf_counter()
    command = [sys.executable, "-m", "glimpse_assets.run", "--day", day]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise BenchmarkError(f"glimpse_assets.run --day {day} failed:\n{done.stdout[-2000:]}")
    return round(seconds, 2)


def run_benchmark(args: argparse.Namespace, workdir: Path) -> tuple[dict, list[str]]:
    added = write_instance_yaml(workdir / "settings", args.max_concurrent_runs)
    print(f"instance settings added to dagster.yaml: {json.dumps(added) if added else 'none'}")
    print(f"backfill run config: {json.dumps(args.run_config) if args.run_config else 'none'}")
    print(f"environment added: {json.dumps(args.env) if args.env else 'none'}")
    days = partition_days(args.start, args.days)
    failures: list[str] = []
    day_run = None
    if not args.no_day_run:
        # The yardstick, through the same path: a backfill of the range's first day alone, on
        # its own fresh instance and storage, before the range (same daemon settings).
        day_run, day_failures, day_profile = run_session(args, workdir / "day", days[:1])
        failures += day_failures
        print(f"one-day backfill, where the time went: {json.dumps(day_profile)}")
        if not succeeded(day_run, days[:1]):
            raise BenchmarkError(f"the one-day backfill did not succeed: {day_run}")
        day_run["in_process_s"] = in_process_day(args, workdir / "in_process", days[0])
    result, range_failures, profile = run_session(args, workdir / "range", days)
    failures += range_failures
    print(f"where the time went: {json.dumps(profile)}")
    result["profile"] = profile
    if day_run is not None:
        result["day_run"] = {k: day_run[k] for k in DAY_RUN_FIELDS} | {
            "in_process_s": day_run["in_process_s"]
        }
        result["ratio_to_day_run"] = round(result["wall_s"] / day_run["wall_s"], 2)
        result["ratio_to_in_process_day"] = round(result["wall_s"] / day_run["in_process_s"], 2)
        goal = RATIO_GOALS.get(args.days)
        if goal is not None:
            result["goal_ratio"] = goal
            result["goal_met"] = result["ratio_to_day_run"] <= goal
    return result, failures


DAY_RUN_FIELDS = ("backfills", "runs_launched", "wall_s", "compute_s", "no_step_running_s")
# Issue 16: a 365-day backfill within 25 one-day runs' time, a 30-day one within 8.
RATIO_GOALS = {365: 25, 30: 8}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="glimpse-backfill-"))
    try:
        result, failures = run_benchmark(args, workdir)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            with suppress(OSError):
                shutil.rmtree(workdir)
    days = partition_days(args.start, args.days)
    ok = succeeded(result, days)
    if failures:
        # A failed run that a run retry then made good still leaves its step failures here.
        print("step failures:", *failures, sep="\n  ", file=sys.stderr)
    if not ok:
        status = result["backfill_status"]
        print(f"backfill did not complete successfully: {status}", file=sys.stderr)
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
