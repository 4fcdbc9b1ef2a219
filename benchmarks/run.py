"""`make bench`: how long the things a user waits for take, each in a fresh process.

Writes the table to BENCHMARKS.md. Timings are wall-clock medians; they belong here, never in a
test's assertion.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAY = "2026-03-01"


def timed(command: list[str], env: dict[str, str], repeats: int) -> list[float]:
    # One untimed run first: right after `pip install` the first import also compiles bytecode.
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def measure_in_fresh_process(env: dict[str, str], script: str, *args: str) -> dict:
    """Run benchmarks/<script> in a new interpreter; its last output line is a JSON result."""
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


CLUSTERING_RUNS = [
    ("glimpse", 10_000),
    ("glimpse", 100_000),
    ("glimpse", 1_000_000),
    ("sklearn", 10_000),
    ("sklearn", 30_000),  # ~100 s and ~19 GiB at 100,000: past what it can do here
]


def clustering_rows(env: dict[str, str]) -> list[str]:
    lines = [
        "",
        "## Clustering (`clustered_rides`: DBSCAN, eps 0.3, min_samples 10, standardised "
        "distance and time of simulated rides)",
        "",
        "| implementation | rides | seconds | peak RSS MiB | of which before clustering | "
        "anomalies |",
        "|---|---|---|---|---|---|",
    ]
    for implementation, rows in CLUSTERING_RUNS:
        m = measure_in_fresh_process(env, "cluster_once.py", str(rows), implementation)
        name = "dbscan package (Glimpse)" if implementation == "glimpse" else "scikit-learn DBSCAN"
        lines.append(
            f"| {name} | {rows:,} | {m['seconds']:.3f} | {m['peak_rss_mib']:.0f} "
            f"| {m['peak_rss_before_mib']:.0f} | {m['anomalies']} |"
        )
    return lines


def storage_rows(env: dict[str, str]) -> list[str]:
    m = measure_in_fresh_process(env, "storage_formats.py")
    return [
        "",
        f"## Storage: `clustered_rides` at {m['rows']:,} rides, Parquet (Glimpse) against pickle",
        "",
        "| format | size MiB | read one column s | read everything s |",
        "|---|---|---|---|",
        f"| Parquet | {m['parquet_mib']:.1f} | {m['parquet_one_column_s']:.3f} "
        f"| {m['parquet_whole_s']:.3f} |",
        f"| pickle | {m['pickle_mib']:.1f} | {m['pickle_one_column_s']:.3f} "
        f"| {m['pickle_whole_s']:.3f} |",
        "",
        "Files in the page cache: these are decoding costs. A pickle has no columns: reading one "
        "means reading all of it.",
    ]


BACKFILLS = [(30, "2026-01-01"), (365, "2025-01-01")]


def backfill_rows(env: dict[str, str]) -> list[str]:
    lines = [
        "",
        "## Backfills of both chains, offline (every asset and check, 10,000 rides a day)",
        "",
        "Launched as the UI launches them (the `launchPartitionBackfill` mutation) and run by "
        "`dagster-daemon` with the default run launcher "
        "(`python benchmarks/backfill.py --days N`). "
        "Compute = the summed step durations of every asset and check step; overhead = wall - "
        "compute; idle = wall time in which no step was running at all.",
        "",
        "| days | runs | wall s | compute s | overhead s | overhead s per day | idle s "
        "| objects stored |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for days, start in BACKFILLS:
        m = measure_in_fresh_process(env, "backfill.py", "--days", str(days), "--start", start)
        lines.append(
            f"| {days} ({start}..) | {m['runs_launched']} | {m['wall_s']:.0f} "
            f"| {m['compute_s']:.0f} | {m['overhead_s']:.0f} | {m['overhead_s_per_day']:.2f} "
            f"| {m['no_step_running_s']:.0f} | {sum(m['stored_objects'].values()):,} |"
        )
    return lines


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="glimpse-bench-"))
    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "GLIMPSE_STORAGE_URI": str(workdir / "storage"),
        "GLIMPSE_PROVIDER": "offline",
        "GLIMPSE_NEWS_SOURCE": "sample",
    }
    rows = [
        (
            "import the code location (`import glimpse_assets`)",
            timed([sys.executable, "-c", "import glimpse_assets"], env, 5),
        ),
        (
            "`dagster definitions validate -m glimpse_assets`",
            timed(
                [str(BIN / "dagster"), "definitions", "validate", "-m", "glimpse_assets"], env, 3
            ),
        ),
        (
            "one day of both chains, offline, 10,000 rides "
            f"(`python -m glimpse_assets.run --day {DAY}`)",
            timed([sys.executable, "-m", "glimpse_assets.run", "--day", DAY], env, 3),
        ),
    ]
    clustering = clustering_rows(env) + storage_rows(env) + backfill_rows(env)
    shutil.rmtree(workdir, ignore_errors=True)

    lines = [
        "# Benchmarks",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}.",
        "Command: `make bench` (benchmarks/run.py). Each figure is a fresh process, wall clock.",
        "",
        "## Start-up and one day",
        "",
        "| what | median s | min s | max s | runs |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in rows:
        lines.append(
            f"| {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f} "
            f"| {max(seconds):.2f} | {len(seconds)} |"
        )
    lines += clustering
    table = "\n".join(lines) + "\n"
    (REPO / "BENCHMARKS.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
