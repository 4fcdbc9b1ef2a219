"""DBSCAN on rides: parity of the grid-based `dbscan` package with scikit-learn's DBSCAN.

DBSCAN fixes the core points (>= min_samples points, itself included, within eps) and the noise
points (neither core nor within eps of a core) exactly. A border point within eps of cores of two
clusters may join either, so clusters are compared on core points only: the same cores must be
split into the same groups, whatever the numbers the two implementations give those groups.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.cluster import DBSCAN
from sklearn.preprocessing import StandardScaler

from glimpse_assets.rides.clustering import (
    FEATURES,
    ClusterStats,
    cluster_rides,
    dbscan_labels,
    finite_rides,
    standardise,
)
from glimpse_assets.rides.simulate import simulate_rides

DAYS = [date(2026, 3, 1), date(2026, 3, 2), date(2025, 12, 31)]


# -- helpers ---------------------------------------------------------------------------------------


def sklearn_dbscan(
    points: np.ndarray, eps: float, min_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, is_core) from scikit-learn, the reference."""
    fitted = DBSCAN(eps=eps, min_samples=min_samples).fit(points)
    is_core = np.zeros(len(points), dtype=bool)
    is_core[fitted.core_sample_indices_] = True
    return fitted.labels_, is_core


def core_partition(labels: np.ndarray, is_core: np.ndarray) -> set[frozenset[int]]:
    """The core points grouped by cluster, as sets of row positions (labels themselves dropped)."""
    groups: dict[int, set[int]] = {}
    for index in np.flatnonzero(is_core):
        groups.setdefault(int(labels[index]), set()).add(int(index))
    return {frozenset(group) for group in groups.values()}


def assert_dbscan_parity(points: np.ndarray, eps: float, min_samples: int) -> None:
    labels, is_core = dbscan_labels(points, eps, min_samples)
    ref_labels, ref_core = sklearn_dbscan(points, eps, min_samples)

    assert labels.shape == is_core.shape == (len(points),)
    np.testing.assert_array_equal(is_core, ref_core, err_msg="core points differ")
    np.testing.assert_array_equal(labels == -1, ref_labels == -1, err_msg="noise points differ")
    assert not (is_core & (labels == -1)).any(), "a core point was labelled noise"
    assert core_partition(labels, is_core) == core_partition(ref_labels, ref_core), (
        "core points are split into different clusters"
    )
    # Every non-noise label is a cluster with at least one core point.
    assert set(labels[labels >= 0]) == set(labels[is_core])


def standardised_rides(day: date, count: int) -> np.ndarray:
    return standardise(simulate_rides(day, count)[FEATURES].to_numpy(dtype=float))


def rides_frame(points: np.ndarray) -> pd.DataFrame:
    """A minimal rides frame with the given [ride_dist, ride_time] and an extra column."""
    return pd.DataFrame(
        {
            "ride_id": [f"r{i:04d}" for i in range(len(points))],
            "ride_dist": points[:, 0] if len(points) else np.empty(0),
            "ride_time": points[:, 1] if len(points) else np.empty(0),
            "ride_kind": ["typical"] * len(points),
        }
    )


# -- parity on simulated days ----------------------------------------------------------------------


@pytest.mark.parametrize("day", DAYS, ids=str)
@pytest.mark.parametrize("count", [500, 5_000])
@pytest.mark.parametrize(("eps", "min_samples"), [(0.3, 10), (0.1, 5), (0.5, 20)])
def test_parity_with_sklearn_on_simulated_days(day, count, eps, min_samples):
    assert_dbscan_parity(standardised_rides(day, count), eps, min_samples)


@pytest.mark.parametrize("day", DAYS[:2], ids=str)
@pytest.mark.parametrize(("eps", "min_samples"), [(0.3, 10), (0.1, 5)])
@pytest.mark.slow
def test_parity_with_sklearn_on_20000_simulated_rides(day, eps, min_samples):
    assert_dbscan_parity(standardised_rides(day, 20_000), eps, min_samples)


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_cluster_rides_marks_the_same_anomalies_as_sklearn(day):
    rides = simulate_rides(day, 5_000)
    clustered, stats = cluster_rides(rides, eps=0.3, min_samples=10)

    points = StandardScaler().fit_transform(rides[FEATURES].to_numpy(dtype=float))
    ref_labels, ref_core = sklearn_dbscan(points, 0.3, 10)
    labels = clustered["cluster"].to_numpy()

    np.testing.assert_array_equal(clustered["is_anomaly"].to_numpy(), ref_labels == -1)
    assert core_partition(labels, ref_core) == core_partition(ref_labels, ref_core)
    assert stats.anomalies == int((ref_labels == -1).sum()) > 0
    assert stats.clusters == len(set(ref_labels[ref_labels >= 0]))


# -- parity on hand-made edge cases ----------------------------------------------------------------


def duplicates_and_exact_eps_points() -> np.ndarray:
    """Heavy duplicates, and pairs exactly eps = 0.5 (and 0.625, a 3-4-5 diagonal) apart.

    Every coordinate is a multiple of 1/8, so differences, squares and square roots are exact
    in binary floating point and "exactly eps apart" means the same to both implementations.
    """
    parts = [
        np.repeat([[0.0, 0.0]], 15, axis=0),  # 15 copies of one point
        np.repeat([[0.5, 0.0]], 9, axis=0),  # 9 copies, exactly 0.5 from the first
        np.repeat([[1.0, 0.0]], 3, axis=0),  # exactly 0.5 from the second
        [[1.5, 0.0]],  # a lone point exactly 0.5 from the third
        np.repeat([[5.0, 5.0]], 6, axis=0),
        np.repeat([[5.375, 5.5]], 6, axis=0),  # exactly 0.625 from (5, 5)
        [[5.0, 5.5], [5.0, 4.5]],  # exactly 0.5 from (5, 5)
        [[-4.0, 3.0], [-4.0, 3.0], [-9.0, -9.0]],  # a far pair and a far single
    ]
    return np.concatenate([np.asarray(p, dtype=float) for p in parts])


@pytest.mark.parametrize("eps", [0.5, 0.625, 0.49, 1.0])
@pytest.mark.parametrize("min_samples", [1, 2, 3, 4, 9, 10, 15, 16, 24, 25])
def test_parity_with_duplicates_and_points_exactly_eps_apart(eps, min_samples):
    assert_dbscan_parity(duplicates_and_exact_eps_points(), eps, min_samples)


def test_points_exactly_eps_apart_are_neighbours():
    # DBSCAN's neighbourhood is closed: distance <= eps counts.
    points = np.array([[0.0, 0.0], [0.5, 0.0]])
    labels, is_core = dbscan_labels(points, eps=0.5, min_samples=2)
    assert labels.tolist() == [0, 0]
    assert is_core.tolist() == [True, True]
    assert dbscan_labels(points, eps=0.4375, min_samples=2)[0].tolist() == [-1, -1]


@pytest.mark.xfail(
    strict=True,
    reason=(
        "PARITY GAP (dbscan package vs scikit-learn, not glimpse code): for a pair whose "
        "floating-point distance rounds to just above eps, dbscan compares squared distances "
        "(0.0025000000000000005 <= 0.05**2) and calls them neighbours; sklearn compares "
        "sqrt (0.05000000000000002 > 0.05) and does not. clustering.py's docstring claims "
        "identical cores and noise; true for continuous data, not at such ties."
    ),
)
def test_parity_at_a_distance_that_rounds_to_just_above_eps():
    points = np.array([[-0.13, -0.03], [-0.08, -0.03]])  # 0.05 apart in decimal
    assert_dbscan_parity(points, eps=0.05, min_samples=2)


@pytest.mark.parametrize("min_samples", [2, 5, 10])
def test_parity_when_every_point_is_noise(min_samples):
    # 200 points on a 0.5-spaced grid, spread over [0, 7] x [0, 7]: nobody within 0.3.
    rng = np.random.default_rng(7)
    grid = np.stack(np.meshgrid(np.arange(15), np.arange(15)), axis=-1).reshape(-1, 2) * 0.5
    points = grid[rng.choice(len(grid), 200, replace=False)] + rng.uniform(-0.05, 0.05, (200, 2))
    labels, is_core = dbscan_labels(points, 0.3, min_samples)
    assert (labels == -1).all()
    assert not is_core.any()
    assert_dbscan_parity(points, 0.3, min_samples)


def test_parity_on_uniformly_spread_sparse_points():
    points = np.random.default_rng(11).uniform(-50, 50, (300, 2))
    labels, _ = dbscan_labels(points, 0.3, 5)
    assert (labels == -1).all()
    assert_dbscan_parity(points, 0.3, 5)


@pytest.mark.parametrize("count", [10, 11, 500])
def test_identical_points_form_one_cluster_of_cores(count):
    points = np.full((count, 2), 1.25)
    labels, is_core = dbscan_labels(points, 0.3, 10)
    assert (labels == labels[0]).all() and labels[0] >= 0
    assert is_core.all()
    assert_dbscan_parity(points, 0.3, 10)


@pytest.mark.parametrize("count", [1, 5, 9])
def test_fewer_rows_than_min_samples_are_all_noise(count):
    points = np.full((count, 2), 0.5)  # identical, yet too few to make a core
    labels, is_core = dbscan_labels(points, 0.3, 10)
    assert (labels == -1).all()
    assert not is_core.any()
    assert_dbscan_parity(points, 0.3, 10)


@pytest.mark.parametrize("min_samples", [1, 2])
def test_one_row(min_samples):
    points = np.array([[3.0, 4.0]])
    assert_dbscan_parity(points, 0.3, min_samples)
    labels, is_core = dbscan_labels(points, 0.3, min_samples)
    assert labels.tolist() == ([0] if min_samples == 1 else [-1])
    assert is_core.tolist() == [min_samples == 1]


def test_zero_rows_give_empty_labels():
    labels, is_core = dbscan_labels(np.empty((0, 2)), 0.3, 10)
    assert labels.shape == is_core.shape == (0,)
    assert labels.dtype == np.int64
    assert is_core.dtype == bool


# -- property test: small random point sets with ties and duplicates -------------------------------

# eps values ending in 5 at the third decimal: on a 0.01 grid squared distances are whole
# multiples of 1e-4 while eps**2 is not, so no pair is "exactly eps apart" and floating-point
# rounding cannot tip a pair across the boundary (see the xfail test above for that case).
_COORDS = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False).map(lambda v: round(v, 2))


@st.composite
def point_sets(draw) -> np.ndarray:
    count = draw(st.integers(5, 200))
    points = draw(arrays(np.float64, (count, 2), elements=_COORDS))
    if draw(st.booleans()):  # make heavy duplicates more likely
        picks = draw(st.lists(st.integers(0, count - 1), min_size=count, max_size=count))
        points = points[picks]
    return points


@settings(max_examples=60, deadline=None)
@given(
    points=point_sets(),
    eps=st.sampled_from([0.015, 0.055, 0.125, 0.305, 0.755]),
    min_samples=st.sampled_from([1, 2, 3, 5, 10]),
)
@pytest.mark.slow
def test_parity_property_on_small_rounded_point_sets(points, eps, min_samples):
    assert_dbscan_parity(points, eps, min_samples)


# -- standardise -----------------------------------------------------------------------------------


@pytest.mark.parametrize("day", DAYS[:2], ids=str)
def test_standardise_equals_sklearn_standard_scaler(day):
    values = simulate_rides(day, 2_000)[FEATURES].to_numpy(dtype=float)
    np.testing.assert_allclose(
        standardise(values), StandardScaler().fit_transform(values), rtol=1e-12, atol=1e-12
    )


def test_standardise_gives_zero_mean_and_unit_population_std():
    values = np.random.default_rng(3).normal([5.0, -2.0], [3.0, 0.1], (1_000, 2))
    result = standardise(values)
    np.testing.assert_allclose(result.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(result.std(axis=0), 1.0, rtol=1e-12)


def test_standardise_turns_a_constant_column_into_zeros():
    values = np.array([[4.0, 1.0], [4.0, 2.0], [4.0, 6.0]])
    result = standardise(values)
    assert not np.isnan(result).any()
    assert result[:, 0].tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(result, StandardScaler().fit_transform(values))


def test_standardise_one_row_and_zero_rows():
    assert standardise(np.array([[2.0, 9.0]])).tolist() == [[0.0, 0.0]]
    empty = standardise(np.empty((0, 2)))
    assert empty.shape == (0, 2)
    assert empty.dtype == float


# -- cluster_rides ---------------------------------------------------------------------------------


def test_cluster_rides_adds_cluster_and_is_anomaly_and_keeps_everything_else():
    rides = simulate_rides(date(2026, 3, 2), 3_000)
    clustered, stats = cluster_rides(rides)

    assert len(clustered) == len(rides)
    assert list(clustered.columns) == [*rides.columns, "cluster", "is_anomaly"]
    pd.testing.assert_frame_equal(clustered[rides.columns], rides)
    assert pd.api.types.is_integer_dtype(clustered["cluster"])
    assert clustered["is_anomaly"].dtype == bool
    assert (clustered["is_anomaly"] == (clustered["cluster"] == -1)).all()
    assert (clustered["cluster"] >= -1).all()
    assert "cluster" not in rides.columns  # the input frame is not modified

    assert stats == ClusterStats(
        rows=3_000,
        clusters=clustered.loc[clustered["cluster"] >= 0, "cluster"].nunique(),
        anomalies=int(clustered["is_anomaly"].sum()),
    )
    assert 0 < stats.anomalies < stats.rows
    assert stats.anomaly_rate == pytest.approx(stats.anomalies / 3_000)


def test_cluster_rides_uses_eps_and_min_samples():
    rides = simulate_rides(date(2026, 3, 2), 2_000)
    _, loose = cluster_rides(rides, eps=0.5, min_samples=5)
    _, strict = cluster_rides(rides, eps=0.05, min_samples=20)
    assert strict.anomalies > loose.anomalies


def test_cluster_rides_on_duplicate_rides():
    points = np.concatenate(
        [np.repeat([[2.0, 4.0]], 15, axis=0), np.repeat([[8.0, 16.0]], 9, axis=0)]
    )
    clustered, stats = cluster_rides(rides_frame(points), eps=0.3, min_samples=10)
    assert clustered["cluster"].iloc[:15].nunique() == 1
    assert (clustered["cluster"].iloc[:15] >= 0).all()
    assert clustered["is_anomaly"].iloc[15:].all()  # 9 copies < min_samples 10
    assert stats == ClusterStats(rows=24, clusters=1, anomalies=9)


def test_cluster_rides_all_identical_rides_are_one_cluster():
    clustered, stats = cluster_rides(rides_frame(np.full((50, 2), 3.0)))
    assert stats == ClusterStats(rows=50, clusters=1, anomalies=0)
    assert not clustered["is_anomaly"].any()
    assert stats.anomaly_rate == 0.0


def test_cluster_rides_fewer_rows_than_min_samples_are_all_anomalies():
    clustered, stats = cluster_rides(rides_frame(np.full((4, 2), 3.0)), min_samples=10)
    assert clustered["is_anomaly"].all()
    assert clustered["cluster"].tolist() == [-1] * 4
    assert stats == ClusterStats(rows=4, clusters=0, anomalies=4)
    assert stats.anomaly_rate == 1.0


def test_cluster_rides_one_row():
    clustered, stats = cluster_rides(rides_frame(np.array([[1.0, 2.0]])), min_samples=10)
    assert clustered["ride_id"].tolist() == ["r0000"]
    assert clustered["is_anomaly"].tolist() == [True]
    assert stats == ClusterStats(rows=1, clusters=0, anomalies=1)


def test_cluster_rides_zero_rows():
    rides = rides_frame(np.empty((0, 2)))
    clustered, stats = cluster_rides(rides)
    assert clustered.empty
    assert list(clustered.columns) == [*rides.columns, "cluster", "is_anomaly"]
    assert stats == ClusterStats(rows=0, clusters=0, anomalies=0)
    assert stats.anomaly_rate is None  # no rides, no rate (not 0.0)


# -- invalid parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(("eps", "min_samples"), [(0.0, 10), (-0.3, 10), (0.3, 0), (0.3, -1)])
def test_invalid_eps_or_min_samples_raise_value_error(eps, min_samples):
    points = np.zeros((5, 2))
    with pytest.raises(ValueError, match="eps > 0 and min_samples >= 1"):
        dbscan_labels(points, eps, min_samples)
    with pytest.raises(ValueError, match="eps > 0 and min_samples >= 1"):
        cluster_rides(rides_frame(points), eps=eps, min_samples=min_samples)


def test_invalid_parameters_raise_even_for_zero_rows():
    with pytest.raises(ValueError):
        dbscan_labels(np.empty((0, 2)), 0.0, 10)


# -- NaN or infinite features: left out and counted, never all noise -----------------------------


@pytest.mark.parametrize(
    ("dist", "time"),
    [(np.nan, 10.0), (3.0, np.nan), (np.inf, 10.0), (3.0, -np.inf), (np.nan, np.nan)],
)
def test_a_ride_with_a_nonfinite_feature_is_dropped_and_counted_not_making_all_noise(dist, time):
    rides = simulate_rides(date(2026, 3, 2), 50)
    _, clean_stats = cluster_rides(rides)
    assert clean_stats.anomalies < 50
    broken = rides.copy()
    broken.loc[17, ["ride_dist", "ride_time"]] = [dist, time]

    clustered, stats = cluster_rides(broken)

    assert stats.dropped_nonfinite_features == 1
    assert stats.rows == len(clustered) == 49
    assert rides["ride_id"].iloc[17] not in set(clustered["ride_id"])
    assert stats.anomalies < 49
    assert np.isfinite(clustered[["ride_dist", "ride_time"]].to_numpy()).all()
    expected, _ = cluster_rides(rides.drop(index=17).reset_index(drop=True))
    pd.testing.assert_frame_equal(clustered, expected)


def test_finite_rides_keeps_clean_rides_as_they_are():
    rides = simulate_rides(date(2026, 3, 2), 20)
    kept, dropped = finite_rides(rides)
    assert dropped == 0
    pd.testing.assert_frame_equal(kept, rides)
    missing = rides.assign(ride_time=pd.array([None] * 20, dtype="Float64"))
    assert finite_rides(missing)[1] == 20


def test_dbscan_labels_refuses_nonfinite_points_rather_than_crash():
    points = np.array([[1.0, 2.0], [np.nan, 1.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match="finite"):
        dbscan_labels(points, 0.3, 2)


@pytest.mark.process
def test_clustering_loads_the_compiled_dbscan_without_scikit_learn():
    """A fresh process clusters a day without importing scikit-learn (the dbscan package's
    wrapper would), and `import dbscan` afterwards gives the very function that clustered."""
    script = (
        "import sys\n"
        "from datetime import date\n"
        "from glimpse_assets.rides.clustering import cluster_rides\n"
        "from glimpse_assets.rides.simulate import simulate_rides\n"
        "clustered, stats = cluster_rides(simulate_rides(date(2026, 3, 1), 2_000))\n"
        "assert stats.rows == 2_000 and stats.clusters >= 1, stats\n"
        "assert 'sklearn' not in sys.modules, 'clustering imported scikit-learn'\n"
        "compiled = sys.modules['dbscan._dbscan'].DBSCAN\n"
        "import dbscan\n"
        "assert dbscan.DBSCAN is compiled\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
