"""`clustered_rides` at 1,000,000 rides: Parquet (what Glimpse stores) against pickle (what
Dagster's default IO managers store). Prints a JSON line with the file sizes and the read times
(all in one fresh process, files in the page cache: decoding cost, not disk speed).

Usage: python benchmarks/storage_formats.py
"""

from __future__ import annotations

import json
import pickle
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from glimpse_assets.rides.clustering import cluster_rides
from glimpse_assets.rides.conditions import attach_conditions, block_conditions
from glimpse_assets.rides.simulate import simulate_rides
from glimpse_assets.storage.formats import PARQUET, encode

ROWS = 1_000_000
DAY = date(2026, 3, 1)


def timed(read) -> float:
    start = time.perf_counter()
    read()
    return time.perf_counter() - start


def main() -> None:
    news = pd.DataFrame(
        {
            "id": ["a", "b"],
            "published": pd.to_datetime(["2026-03-01 06:00", "2026-03-01 15:00"], utc=True),
            "title": ["A headline", "Another one"],
        }
    )
    blocks = block_conditions(DAY, news, news_by_publication_time=False)
    rides = attach_conditions(simulate_rides(DAY, ROWS), blocks)
    clustered, _ = cluster_rides(rides)
    folder = Path(tempfile.mkdtemp(prefix="glimpse-formats-"))
    parquet, pickled = folder / "clustered.parquet", folder / "clustered.pkl"
    parquet.write_bytes(encode(clustered, PARQUET))
    pickled.write_bytes(pickle.dumps(clustered, protocol=pickle.HIGHEST_PROTOCOL))
    result = {
        "rows": ROWS,
        "parquet_mib": parquet.stat().st_size / 2**20,
        "pickle_mib": pickled.stat().st_size / 2**20,
        "parquet_one_column_s": timed(lambda: pd.read_parquet(parquet, columns=["is_anomaly"])),
        "pickle_one_column_s": timed(lambda: pickle.loads(pickled.read_bytes())["is_anomaly"]),
        "parquet_whole_s": timed(lambda: pd.read_parquet(parquet)),
        "pickle_whole_s": timed(lambda: pickle.loads(pickled.read_bytes())),
    }
    for path in (parquet, pickled):
        path.unlink()
    folder.rmdir()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
