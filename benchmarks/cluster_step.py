"""The whole `clustered_rides` step on one day of simulated rides (read raw_rides from storage,
standardise, DBSCAN, plot, write Parquet, metadata), as Dagster runs it; prints a JSON line.

Usage: python benchmarks/cluster_step.py [--rides 1000000] [--day 2026-03-01] [--fresh]

Without --fresh, raw_news, raw_rides and clustered_rides run in one process, as `make run` runs
them (the in-process executor: pandas and the rest are already imported when clustered_rides
starts). With --fresh, raw_news and raw_rides are stored by a first process and clustered_rides
runs alone in a second, fresh one, paying every import it needs (as the multiprocess executor
runs a step). The figure is the step's STEP_SUCCESS `duration_ms`.

The parts of the step are timed by wrapping the functions it calls (perf_counter, no profiler):
the IO manager's load and store, finite_rides, standardise, DBSCAN, the plot, the rest of
Dagster's step (its events, the metadata) being the remainder.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

PARTS: dict[str, float] = defaultdict(float)


def timed(name: str, function, step_of=None):
    """`function`, its time added to PARTS[name]; with `step_of`, only when the step that calls
    it (`step_of(*args)`) is clustered_rides."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if step_of is not None and step_of(*args) != "clustered_rides":
            return function(*args, **kwargs)
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            PARTS[name] += time.perf_counter() - start

    return wrapper


def instrument() -> None:
    """Only functions that clustered_rides alone calls, and the IO manager in its step."""
    from glimpse_assets.rides import clustering, steps
    from glimpse_assets.storage.io_manager import GlimpseIOManager

    def step_of(manager, context, *_) -> str:
        return context.op_def.name

    GlimpseIOManager.load_input = timed(
        "read raw_rides (IO manager: Parquet to pandas)", GlimpseIOManager.load_input, step_of
    )
    clustering.finite_rides = timed("drop non-finite rides", clustering.finite_rides)
    clustering.standardise = timed("standardise", clustering.standardise)
    clustering.dbscan_labels = timed(
        "DBSCAN (dbscan package, with loading its compiled module)", clustering.dbscan_labels
    )
    steps.scatter_png = timed("plot (Pillow, every ride)", steps.scatter_png)
    GlimpseIOManager.handle_output = timed(
        "write clustered_rides (IO manager: pandas to Parquet)",
        GlimpseIOManager.handle_output,
        step_of,
    )


def run(assets: list[str], day: str, rides: int, measure: str | None) -> dict:
    import dagster as dg

    from glimpse_assets.definitions import build_definitions

    definitions = build_definitions(dict(os.environ))
    if measure:
        instrument()
    job = definitions.resolve_job_def("rides_job")
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/partition": day},
        asset_selection=[dg.AssetKey(a) for a in assets],
        run_config={
            "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            "ops": {"raw_rides": {"config": {"rides_per_day": rides}}}
            if "raw_rides" in assets
            else {},
        },
    )
    durations = {
        e.step_key: e.event_specific_data.duration_ms / 1000
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_SUCCESS
    }
    out = {"steps": durations}
    if measure:
        step = durations[measure]
        parts = {name: round(seconds, 4) for name, seconds in PARTS.items()}
        parts["the rest: adding the labels, the metadata, Dagster's step"] = round(
            step - sum(PARTS.values()), 4
        )
        out["parts"] = parts
        out["step_s"] = step
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rides", type=int, default=1_000_000)
    parser.add_argument("--day", default="2026-03-01")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--storage", help=argparse.SUPPRESS)  # the second, fresh process
    args = parser.parse_args()
    storage = args.storage or tempfile.mkdtemp(prefix="glimpse-cluster-step-")
    os.environ.update(
        {
            "GLIMPSE_STORAGE_URI": storage,
            "GLIMPSE_PROVIDER": "offline",
            "GLIMPSE_NEWS_SOURCE": "sample",
        }
    )
    os.environ.pop("DAGSTER_HOME", None)
    if args.storage:  # the fresh process: clustered_rides alone, on what the first one stored
        print(json.dumps(run(["clustered_rides"], args.day, args.rides, "clustered_rides")))
        return
    try:
        if args.fresh:
            run(["raw_news", "raw_rides"], args.day, args.rides, None)
            second = ["--rides", str(args.rides), "--day", args.day, "--storage", storage]
            out = subprocess.run(
                [sys.executable, __file__, *second],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
        else:
            result = run(
                ["raw_news", "raw_rides", "clustered_rides"],
                args.day,
                args.rides,
                "clustered_rides",
            )
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    print(json.dumps({"rides": args.rides, "fresh": args.fresh, **result}))


if __name__ == "__main__":
    main()
