"""`make bench`: how long the things a user waits for take, each in a fresh process.

Writes the table to BENCHMARKS.md. Timings are wall-clock medians; they belong here, never in a
test's assertion.
"""

from __future__ import annotations

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
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return seconds


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
            f"one day of the news chain, offline (`python -m glimpse_assets.run --day {DAY}`)",
            timed([sys.executable, "-m", "glimpse_assets.run", "--day", DAY], env, 3),
        ),
    ]
    shutil.rmtree(workdir, ignore_errors=True)

    lines = [
        "# Benchmarks",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}.",
        "Command: `make bench` (benchmarks/run.py). Each figure is a fresh process, wall clock.",
        "",
        "| what | median s | min s | max s | runs |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in rows:
        lines.append(
            f"| {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f} "
            f"| {max(seconds):.2f} | {len(seconds)} |"
        )
    table = "\n".join(lines) + "\n"
    (REPO / "BENCHMARKS.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
