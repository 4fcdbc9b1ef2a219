"""Anomalous rides by DBSCAN on standardised [ride_dist, ride_time].

scikit-learn's DBSCAN needs every point's neighbourhood in memory: about 100 s and 19 GiB for
100,000 rides of this shape. The `dbscan` package (Wang, Gu and Shun, SIGMOD 2020) is an exact
grid-based DBSCAN for low dimensions: the same core points and the same noise points as
scikit-learn (border points may join a different one of their neighbouring clusters, as DBSCAN
allows), a million rides in well under a second; its compiled core is loaded without the
package's scikit-learn wrapper (see `_dbscan_core`). The parity is tested in the suite. One caveat:
it compares squared distances with eps squared, so a pair whose distance rounds to a hair above
eps in floating point (e.g. 0.05000000000000002 for eps 0.05) can count as neighbours where
scikit-learn says no; on continuous ride data such ties do not arise.

A ride whose distance or time is NaN or infinite cannot be standardised: one such row makes the
mean and standard deviation NaN and every ride of the day noise. `finite_rides` drops and counts
them; raw_rides applies it to every source, and `cluster_rides` again for any other caller.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURES = ["ride_dist", "ride_time"]


@dataclass(frozen=True)
class ClusterStats:
    rows: int  # rides labelled
    clusters: int
    anomalies: int
    dropped_nonfinite_features: int = 0  # rides left out before clustering (see finite_rides)

    @property
    def anomaly_rate(self) -> float | None:
        """Anomalies per labelled ride; None on a day without rides (there is no rate)."""
        return self.anomalies / self.rows if self.rows else None


def finite_rides(rides: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`rides` without the rows whose features are NaN or infinite, and how many those were."""
    finite = np.isfinite(rides[FEATURES].to_numpy(dtype=float, na_value=np.nan)).all(axis=1)
    dropped = int((~finite).sum())
    return (rides[finite].reset_index(drop=True) if dropped else rides), dropped


def standardise(values: np.ndarray) -> np.ndarray:
    """Per column: subtract the mean and divide by the population standard deviation (as
    scikit-learn's StandardScaler); a constant column becomes zeros."""
    if len(values) == 0:
        return values.astype(float)
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return (values - mean) / np.where(std > 0, std, 1.0)


def _dbscan_core():
    """The dbscan package's compiled module, `dbscan._dbscan`, whose `DBSCAN(X, eps,
    min_samples)` is the function `from dbscan import DBSCAN` gives.

    Loaded without running the package's `__init__`, which also builds a scikit-learn style
    wrapper class and so imports scikit-learn: about 1 s, more than clustering a million rides.
    The module is found and loaded by the standard import machinery (importlib), under its own
    name, so a later `import dbscan` reuses it."""
    module = sys.modules.get("dbscan._dbscan")
    if module is None:
        package = importlib.util.find_spec("dbscan")  # finds the package, does not import it
        if package is None or not package.submodule_search_locations:
            raise ImportError("the dbscan package is not installed")
        spec = importlib.machinery.PathFinder.find_spec(
            "dbscan._dbscan", package.submodule_search_locations
        )
        if spec is None:
            raise ImportError("the dbscan package has no compiled module _dbscan")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["dbscan._dbscan"] = module
    return module


def dbscan_labels(
    points: np.ndarray, eps: float, min_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, is_core) for 2-D points; label -1 is noise."""
    if eps <= 0 or min_samples < 1:
        raise ValueError(f"DBSCAN needs eps > 0 and min_samples >= 1, got {eps} and {min_samples}")
    if len(points) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    if not np.isfinite(points).all():  # the extension can crash the process on NaN
        raise ValueError("DBSCAN needs finite points: drop NaN and infinite rows first")
    labels, core = _dbscan_core().DBSCAN(
        np.ascontiguousarray(points, dtype=np.float64), eps=eps, min_samples=min_samples
    )
    return labels.astype(np.int64), core.astype(bool)


def cluster_rides(
    rides: pd.DataFrame, eps: float = 0.3, min_samples: int = 10
) -> tuple[pd.DataFrame, ClusterStats]:
    """`rides` with `cluster` (-1 = anomaly) and `is_anomaly` added; rides with a NaN or infinite
    feature are left out (and counted in the stats)."""
    rides, dropped = finite_rides(rides)
    points = standardise(rides[FEATURES].to_numpy(dtype=float))
    labels, _ = dbscan_labels(points, eps, min_samples)
    clustered = rides.assign(cluster=labels, is_anomaly=labels == -1)
    stats = ClusterStats(
        rows=len(rides),
        clusters=len(np.unique(labels[labels >= 0])),
        anomalies=int((labels == -1).sum()),
        dropped_nonfinite_features=dropped,
    )
    return clustered, stats
