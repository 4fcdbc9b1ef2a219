"""One offline day of the news and rides chains in this (fresh) process, as `make run` runs them
(news_job, then rides_job, in process, each asset once); prints a JSON line with every step's
duration (its STEP_SUCCESS `duration_ms`, asset and check steps) and their sum.

Where each step's time goes, without a profiler: first imports (a module imported for the first
time while the step runs, outermost imports only) and the IO manager (reading inputs, writing
outputs) are timed by wrapping them, and placed in the step whose STEP_START..STEP_SUCCESS holds
them; the rest is the step's own code and Dagster's work around it.

Usage: python benchmarks/day_steps.py [--day 2026-03-01] [--rides N] [--profile FILE]

With --profile, the runs are also profiled (cProfile, written to FILE; read it with
`python -m pstats FILE`), which makes every step slower: the durations are then not the figure.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib._bootstrap
import json
import os
import tempfile
import time

from day_runs import run_jobs

JOBS = ("news_job", "rides_job")
INTERVALS: list[tuple[str, float, float]] = []  # (what, start, end), wall clock


def record(what: str, function):
    depth = [0]

    def wrapper(*args, **kwargs):
        if depth[0]:  # an import inside an import: counted with the outer one
            return function(*args, **kwargs)
        depth[0] += 1
        start = time.time()
        try:
            return function(*args, **kwargs)
        finally:
            depth[0] -= 1
            INTERVALS.append((what, start, time.time()))

    return wrapper


def instrument() -> None:
    from glimpse_assets.storage.io_manager import GlimpseIOManager

    # The import statement calls importlib._bootstrap._find_and_load for a module not yet loaded.
    importlib._bootstrap._find_and_load = record("imports", importlib._bootstrap._find_and_load)
    GlimpseIOManager.load_input = record("io", GlimpseIOManager.load_input)
    GlimpseIOManager.handle_output = record("io", GlimpseIOManager.handle_output)


def split(steps: dict[str, tuple[float, float, float]]) -> dict[str, dict[str, float]]:
    """Per step: its duration, the imports and IO manager time inside it, and the rest."""
    parts = {}
    for step, (start, end, duration) in steps.items():
        inside = {"imports": 0.0, "io": 0.0}
        ours = [i for i in INTERVALS if i[1] >= start and i[2] <= end]
        for what, begin, finish in ours:
            inside[what] += finish - begin
        # An import made by the IO manager (pyarrow's first use, say) counts as an import only.
        for what, begin, finish in ours:
            if what == "imports" and any(
                w == "io" and b <= begin and finish <= f for w, b, f in ours
            ):
                inside["io"] -= finish - begin
        parts[step] = {
            "s": round(duration, 4),
            "imports_s": round(inside["imports"], 4),
            "io_s": round(inside["io"], 4),
            "rest_s": round(duration - inside["imports"] - inside["io"], 4),
        }
    return parts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--day", default="2026-03-01")
    parser.add_argument("--rides", type=int, default=10_000)
    parser.add_argument("--profile")
    args = parser.parse_args()
    storage = tempfile.mkdtemp(prefix="glimpse-day-steps-")
    os.environ.update(
        {
            "GLIMPSE_STORAGE_URI": storage,
            "GLIMPSE_PROVIDER": "offline",
            "GLIMPSE_NEWS_SOURCE": "sample",
            "GLIMPSE_RIDES_PER_DAY": str(args.rides),
        }
    )
    os.environ.pop("DAGSTER_HOME", None)
    import dagster as dg

    from glimpse_assets.definitions import build_definitions

    definitions = build_definitions(dict(os.environ))
    instance = dg.DagsterInstance.ephemeral()
    profile = cProfile.Profile() if args.profile else None
    if not profile:
        instrument()
    start, cpu = time.perf_counter(), time.process_time()
    steps, failed = run_jobs(definitions, instance, JOBS, args.day, profile)
    if failed:
        raise SystemExit(f"steps failed on {args.day}: {', '.join(failed)}")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if profile:
        profile.dump_stats(args.profile)
    print(
        json.dumps(
            {
                "day": args.day,
                "rides": args.rides,
                "steps": split(steps),
                "step_sum_s": round(sum(duration for _, _, duration in steps.values()), 4),
                "runs_wall_s": round(wall, 4),
                # CPU time of this process over both runs (steps and orchestration): what the
                # day costs whatever else the machine is doing.
                "runs_cpu_s": round(cpu, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
