"""A backfill of every Glimpse asset (every materializable asset of every domain, with their
asset checks) over N daily partitions, launched as the UI's "Materialize all" launches it and
executed by the real Dagster daemon: how long it takes, against a one-day CLI run of every asset,
and where the time goes.

Every daily asset shares one partitions definition (`partitions.daily_partitions`) and one
backfill policy (`BackfillPolicy.single_run()`), and every dependency is an identity mapping, so
the whole graph over the whole range is ONE backfill that the daemon plans as ONE run. That run
uses the code location's executor (`range_executor`, unless --run-config says otherwise): a
range shorter than its `parallel_from_days` (60 by default) runs its steps one after another in
the run's process, a longer one runs them side by side, each in its own process, `max_concurrent`
at once (0, the default: one per core).

What runs, each session in a fresh temporary DAGSTER_HOME (the repository's dagster.yaml, plus
any instance setting given on the command line, printed) and a fresh temporary storage folder,
offline (GLIMPSE_PROVIDER=offline, the sample news, simulated rides, the outbox publisher),
with GLIMPSE_START_DATE set to --start so that any range of past days has its partitions:

1. The instance is created once (its SQLite schema), before anything else starts.
2. `dagster-daemon run -w workspace.yaml` starts, with the default run launcher (one
   subprocess per run). The benchmark waits for the backfill and run queue daemons' first
   heartbeats.
3. `dagster-webserver -w workspace.yaml` starts on 127.0.0.1; the benchmark asks its GraphQL API
   for every materializable asset and sends the UI's own `launchPartitionBackfill` mutation with
   all of them and the N days (asset selection + partition names): one backfill. Then it stops
   the webserver.
4. The benchmark polls the instance until the backfill reaches a terminal status, then stops
   the daemon with SIGTERM (its clean shutdown).

Sessions, in this order, in one invocation (so that the ratio compares runs on the same machine
under the same load): the yardstick, `dagster asset materialize -m glimpse_assets --select '*'
--partition FIRST` (every asset and check of the range's first day in one CLI run, no daemon,
timed as the wall seconds of that subprocess); then `python -m glimpse_assets.run --day FIRST`
(every job of the day in one process, no CLI: the earlier yardstick); then the N-day
backfill. --no-day-run skips both one-day runs (and the ratios). A one-day backfill through the
daemon is no longer run as a yardstick: most of its wall time was the daemon's 30 s iterations
with no step running, which the N-day backfill pays too and reports in its profile (when its run
was created, its end to the backfill's end).

The measurement:
- wall seconds: the backfill's own timestamps, from its submission (`backfill_timestamp`, set by
  the webserver) to its completion (`backfill_end_timestamp`, set by the daemon's backfill
  iteration that sees the run finish). The backfill daemon iterates every 30 s
  (DEFAULT_DAEMON_INTERVAL_SECONDS, no instance setting changes it in Dagster 1.13), so the wall
  time holds up to 30 s waiting for the iteration that creates the run and up to 30 s (or one
  more iteration) after the run ends before the backfill is seen complete.
- ratio_to_one_day_cli = wall / one_day_cli_seconds (the goal: 25 for 365 days, in `goal_ratio`
  and `goal_met`); ratio_to_in_process_day = wall / in_process_day_s.
- compute seconds: the sum, over every successful step of the backfill's run (asset and asset
  check steps), of the `duration_ms` of its STEP_SUCCESS event: the time a step spends inside
  Dagster's step execution (loading inputs, the asset's own code, storing outputs), not starting
  its process. Two steps running side by side count twice.
- overhead seconds = wall - compute: what orchestration adds (daemon iterations, the run queue,
  the run's and its steps' processes starting and importing the code location), and per
  partition-day. With steps side by side it can be small or even negative: steps that share the
  cores take longer, and their durations add up past the wall time. So the JSON also has
- no_step_running seconds: wall minus the time during which at least one step was executing (the
  union of STEP_START..STEP_SUCCESS intervals): time when no asset or check code ran at all.
- profile (printed, and in the JSON): mean seconds per run in the run queue (enqueued to
  launched), starting the run worker (launched to RUN_START), and per step starting its process
  (STEP_WORKER_STARTING to STEP_START; none when the steps run in the run's process); step
  seconds per day by step; the waves of runs (runs created by one daemon iteration: when, how
  many, how many days each, which assets, when the last ended; one wave of one run, unless a
  crashed run was retried); and the time from the last run's end to the backfill's end.
- load_average: the machine's 1-minute load average when the benchmark started and ended.

The last line of stdout is a JSON object with the numbers. Exit status 1, with the failed steps'
messages, if the backfill did not complete successfully; 2 if the benchmark could not run it (a
code location that does not load, a day that is not a partition, a failed one-day run, a
timeout). The daemon also runs the code location's schedules: a benchmark spanning 06:00 or
08:00 UTC shares the cores with a scheduled run (not counted: only the backfill's runs are).

Usage (from the repository root, with the virtualenv's python):
  python benchmarks/backfill.py --days 30 [--start 2026-01-01] [--max-concurrent-runs 4]
      [--run-config '{"execution": {"config": {"parallel_from_days": 1, "max_concurrent": 2}}}']
      [--no-day-run] [--timeout S] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from glimpse_assets.dagster_compat import BackfillRecord  # noqa: E402
from glimpse_assets_tests.support.dagster_processes import (  # noqa: E402
    BIN,
    DagsterProcessError,
    backfill_runs,
    daemon_env,
    failure_messages,
    init_instance,
    launch_backfill,
    materializable_assets,
    not_materialised,
    of_type,
    run_events,
    running_daemon,
    running_webserver,
    target_partitions,
    wait_for_backfill,
    write_instance_yaml,
)
from glimpse_assets_tests.support.net import NotReady  # noqa: E402


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
        help="run config for the backfill's run, as JSON (the launchpad's runConfigData), e.g. "
        '\'{"execution": {"config": {"parallel_from_days": 1, "max_concurrent": 2}}}\'',
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
        help="skip the one-day runs (the CLI day, the in-process day) and the ratios to them",
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


def check_days_exist(assets: list[dict], days: list[str]) -> None:
    """Dagster backfills only the existing partitions of a request: say so instead."""
    for node in assets:
        missing = sorted(set(days) - set(node["partitionKeys"]))
        if missing:
            name = "/".join(node["assetKey"]["path"])
            raise BenchmarkError(f"{name} has no partition {', '.join(missing)}")


def submit_from_ui(
    env: dict[str, str], workdir: Path, days: list[str], run_config: dict | None
) -> tuple[str, Counter]:
    """Start the webserver, launch ONE backfill of every materializable asset over `days`
    through its GraphQL API (the UI's "Materialize all"), stop the webserver; the backfill's id
    and the number of assets by group."""
    with running_webserver(env, workdir / "webserver.log") as url:
        assets = materializable_assets(url)
        check_days_exist(assets, days)
        paths = [node["assetKey"]["path"] for node in assets]
        backfill_id = launch_backfill(url, paths, days, run_config)
    return backfill_id, Counter(node["groupName"] for node in assets)


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
    backfill: BackfillRecord,
    runs: list[dg.DagsterRun],
    events_by_run: dict[str, list],
    objects: dict[str, int],
) -> dict:
    wall = (backfill.ended or time.time()) - backfill.submitted
    compute = compute_seconds(events_by_run)
    statuses = Counter(run.status for run in runs)
    target = target_partitions(backfill)
    return {
        "days": len(days),
        "start": days[0],
        "assets": len(target),
        "target_asset_days": sum(len(keys) for keys in target.values()),
        "runs_launched": len(runs),
        "runs_succeeded": statuses[dg.DagsterRunStatus.SUCCESS],
        "runs_failed": statuses[dg.DagsterRunStatus.FAILURE],
        "backfill_status": backfill.status,
        "wall_s": round(wall, 2),
        "compute_s": round(compute, 2),
        "overhead_s": round(wall - compute, 2),
        "overhead_s_per_day": round((wall - compute) / len(days), 2),
        "no_step_running_s": round(wall - busy_seconds(step_intervals(events_by_run)), 2),
        "stored_objects": objects,
        "not_materialised": not_materialised(backfill),
    }


def succeeded(result: dict) -> bool:
    return (
        result["runs_failed"] == 0
        and result["backfill_status"] == "COMPLETED_SUCCESS"
        and not result["not_materialised"]
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
    return partition_days(first, (date.fromisoformat(last) - date.fromisoformat(first)).days + 1)


def compute_by_asset(events_by_run: dict[str, list], days: int) -> dict[str, float]:
    """Summed step seconds by step (asset or check), per day of the backfill."""
    totals: Counter = Counter()
    for events in events_by_run.values():
        for e in of_type(events, dg.DagsterEventType.STEP_SUCCESS):
            totals[e.step_key] += e.dagster_event.event_specific_data.duration_ms / 1000
    return {key: round(total / days, 3) for key, total in totals.most_common()}


# -- the sessions: the backfill through the daemon, the one-day runs ------------------------------


def fresh_instance(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, str], Path, Path]:
    """A fresh DAGSTER_HOME (created) and storage folder under `workdir`: the environment that
    points at them, the home and the storage."""
    home, storage = workdir / "dagster_home", workdir / "storage"
    write_instance_yaml(home, args.max_concurrent_runs)
    env = daemon_env(home, storage, args.start) | args.env
    init_instance(env)
    return env, home, storage


def run_session(
    args: argparse.Namespace, workdir: Path, days: list[str]
) -> tuple[dict, list[str], dict]:
    """A fresh instance and storage under `workdir`, a daemon, the backfill of `days` launched
    from the UI's API; returns the summary, the step failures and the profile."""
    env, home, storage = fresh_instance(args, workdir)
    with running_daemon(env, home, workdir / "daemon.log") as instance:
        backfill_id, groups = submit_from_ui(env, workdir, days, args.run_config)
        print(f"{days[0]}..{days[-1]}: backfill {backfill_id}, assets by group {dict(groups)}")
        timeout = args.timeout or 600 + 120 * len(days)
        backfill = wait_for_backfill(instance, backfill_id, timeout)
        runs = backfill_runs(instance, backfill_id)
        events_by_run = run_events(instance, runs)
        timeline = waves(instance, runs, events_by_run, backfill.submitted)
    paths = [key.path for key in backfill.asset_keys]
    result = summarize(days, backfill, runs, events_by_run, stored_objects(storage, paths))
    ended = backfill.ended or time.time()
    profile = {
        **time_breakdown(runs, events_by_run),
        "compute_s_per_day_by_step": compute_by_asset(events_by_run, len(days)),
        "waves": timeline,
        "last_run_end_to_backfill_end_s": round(
            ended
            - backfill.submitted
            - max((w["last_run_ended_at_s"] or 0 for w in timeline), default=0),
            1,
        ),
    }
    return result, failure_messages(events_by_run), profile


def timed_day_run(args: argparse.Namespace, workdir: Path, command: list[str]) -> float:
    """Wall seconds of `command` (a one-day run, no daemon) on a fresh instance and storage."""
    env, _, _ = fresh_instance(args, workdir)
    began = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-2000:]
        raise BenchmarkError(f"{' '.join(command)} failed ({done.returncode}):\n{output}")
    return round(seconds, 2)


def one_day_cli(args: argparse.Namespace, workdir: Path, day: str) -> float:
    """Seconds of `dagster asset materialize -m glimpse_assets --select '*' --partition DAY`:
    every asset and check of the day in one CLI run, in the CLI's process: the yardstick."""
    select = [str(BIN / "dagster"), "asset", "materialize", "-m", "glimpse_assets", "--select"]
    return timed_day_run(args, workdir, [*select, "*", "--partition", day])


def in_process_day(args: argparse.Namespace, workdir: Path, day: str) -> float:
    """Seconds of `python -m glimpse_assets.run --day DAY` (every job of the day in one process,
    no daemon, no run queue): the issue's earlier yardstick."""
    return timed_day_run(args, workdir, [sys.executable, "-m", "glimpse_assets.run", "--day", day])


def run_benchmark(args: argparse.Namespace, workdir: Path) -> tuple[dict, list[str]]:
    added = write_instance_yaml(workdir / "settings", args.max_concurrent_runs)
    print(f"instance settings added to dagster.yaml: {json.dumps(added) if added else 'none'}")
    print(f"backfill run config: {json.dumps(args.run_config) if args.run_config else 'none'}")
    print(f"environment added: {json.dumps(args.env) if args.env else 'none'}")
    load_at_start = os.getloadavg()[0]
    days = partition_days(args.start, args.days)
    day_runs = {}
    if not args.no_day_run:
        # The yardsticks, each on its own fresh instance and storage, before the range.
        day_runs["one_day_cli_seconds"] = one_day_cli(args, workdir / "cli_day", days[0])
        day_runs["in_process_day_s"] = in_process_day(args, workdir / "in_process", days[0])
        print(f"one day, {days[0]}: {json.dumps(day_runs)}")
    result, failures, profile = run_session(args, workdir / "range", days)
    print(f"where the time went: {json.dumps(profile)}")
    result["profile"] = profile
    if day_runs:
        result |= day_runs
        result["ratio_to_one_day_cli"] = round(
            result["wall_s"] / day_runs["one_day_cli_seconds"], 2
        )
        result["ratio_to_in_process_day"] = round(
            result["wall_s"] / day_runs["in_process_day_s"], 2
        )
        goal = RATIO_GOALS.get(args.days)
        if goal is not None:
            result["goal_ratio"] = goal
            result["goal_met"] = result["ratio_to_one_day_cli"] <= goal
    result["load_average"] = {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)}
    return result, failures


# Issue 16: a 365-day backfill of every asset within 25 one-day runs' time.
RATIO_GOALS = {365: 25}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="glimpse-backfill-"))
    try:
        result, failures = run_benchmark(args, workdir)
    except (BenchmarkError, DagsterProcessError, NotReady) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            with suppress(OSError):
                shutil.rmtree(workdir)
    ok = succeeded(result)
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
