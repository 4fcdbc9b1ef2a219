"""One clustering measurement in this (fresh) process; prints a JSON line.

Usage: python benchmarks/cluster_once.py ROWS glimpse|sklearn
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import date

from glimpse_assets.rides.clustering import FEATURES, dbscan_labels, standardise
from glimpse_assets.rides.simulate import simulate_rides

EPS, MIN_SAMPLES = 0.3, 10


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    rows, implementation = int(sys.argv[1]), sys.argv[2]
    points = standardise(simulate_rides(date(2026, 3, 1), rows)[FEATURES].to_numpy(dtype=float))
    if implementation == "sklearn":
        from sklearn.cluster import DBSCAN

        def run():
            return DBSCAN(eps=EPS, min_samples=MIN_SAMPLES).fit(points).labels_
    else:
        from glimpse_assets.rides.clustering import _dbscan_core

        _dbscan_core()  # loaded before the baseline, as Glimpse loads it (without scikit-learn)

        def run():
            return dbscan_labels(points, EPS, MIN_SAMPLES)[0]

    before = peak_mib()
    start = time.perf_counter()
    labels = run()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rows": rows,
                "implementation": implementation,
                "seconds": seconds,
                "peak_rss_mib": peak_mib(),
                "peak_rss_before_mib": before,
                "anomalies": int((labels == -1).sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
