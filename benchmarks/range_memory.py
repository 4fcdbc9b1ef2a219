"""The memory of a single-run range: `raw_rides` + `clustered_rides` over N days at 1,000,000
simulated rides a day, in this (fresh) process, offline; prints a JSON line.

A range run stores each day as soon as it is computed and lets it go (see `glimpse_assets.ranges`),
so its peak RSS is one day's work whatever N is: compare N=3 with N=30. The day's `raw_news`
(whose headlines `raw_rides` reads) is materialised first, in the same process; the wall time is
the rides run's alone.

Usage (from the repository root, with the virtualenv's python):
  python benchmarks/range_memory.py --days 30 [--rides 1000000] [--start 2026-01-01]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rides", type=int, default=1_000_000)
    parser.add_argument("--start", default="2026-01-01")
    args = parser.parse_args()
    first = date.fromisoformat(args.start)
    last = first + timedelta(days=args.days - 1)
    storage = Path(tempfile.mkdtemp(prefix="glimpse-range-memory-"))
    # Read when glimpse_assets is imported (the partitions' start date), so set before it.
    os.environ.update(
        {
            "GLIMPSE_STORAGE_URI": str(storage),
            "GLIMPSE_PROVIDER": "offline",
            "GLIMPSE_NEWS_SOURCE": "sample",
            "GLIMPSE_START_DATE": first.isoformat(),
        }
    )
    import dagster as dg

    from glimpse_assets.definitions import build_definitions
    from glimpse_assets.news.assets import raw_news
    from glimpse_assets.rides.assets import clustered_rides, raw_rides

    resources = build_definitions().resources
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    instance = dg.DagsterInstance.ephemeral()
    news = dg.materialize([raw_news], resources=resources, instance=instance, tags=tags)
    assert news.success
    before = peak_mib()
    start = time.perf_counter()
    result = dg.materialize(
        [raw_news, raw_rides, clustered_rides],
        selection=[raw_rides, clustered_rides],
        resources=resources,
        instance=instance,
        tags=tags,
        run_config={"ops": {"raw_rides": {"config": {"rides_per_day": args.rides}}}},
        raise_on_error=False,
    )
    wall = time.perf_counter() - start
    stored = [
        path
        for folder in ("raw_rides", "clustered_rides")
        for path in (storage / folder).glob("*.parquet")
    ]
    print(
        json.dumps(
            {
                "days": args.days,
                "rides_per_day": args.rides,
                "success": result.success,
                "wall_s": wall,
                "peak_rss_mib": peak_mib(),
                "peak_rss_before_rides_mib": before,
                "objects_stored": len(stored),
                "stored_mib": sum(path.stat().st_size for path in stored) / 2**20,
            }
        )
    )
    shutil.rmtree(storage, ignore_errors=True)
    if not result.success:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
