"""The rides scatter plot: distance against time, one colour per cluster, anomalies marked.

Colours are a qualitative palette without red (red is the anomalies' cross), strong enough on
white; the legend names each cluster with its number of rides. A day of a million rides is drawn
from a sample: every anomaly, and at most 20,000 clustered rides spread over the clusters so that
a cluster of a dozen rides still shows (see `plotted_sample`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_PLOTTED_NORMAL_RIDES = 20_000  # plus every anomaly: a million dots say no more than this
MIN_PLOTTED_PER_CLUSTER = 200  # a small cluster is drawn whole, up to this many of its rides
# matplotlib's tab10 without its red (kept for the anomalies), its orange, pink and cyan darkened
# so that every colour has at least the 3:1 contrast on white that WCAG asks of graphics; a
# cluster past the 7th is grey.
CLUSTER_COLOURS = (
    "#1f77b4",  # blue
    "#e8710a",  # orange
    "#2ca02c",  # green
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#d45fb0",  # pink
    "#0e9aa7",  # teal
    "#7f7f7f",  # grey: the remaining clusters, together
)
ANOMALY_COLOUR = "#d62728"
NAMED_CLUSTERS = len(CLUSTER_COLOURS) - 1


def cluster_quotas(sizes: np.ndarray, limit: int) -> np.ndarray:
    """How many rides of each cluster to draw: all of them if they fit, else `limit` in all, at
    least min(size, MIN_PLOTTED_PER_CLUSTER) each (when those fit), the rest shared by size."""
    sizes = np.asarray(sizes, dtype=np.int64)
    if sizes.sum() <= limit:
        return sizes
    floor = np.minimum(sizes, MIN_PLOTTED_PER_CLUSTER)
    if floor.sum() > limit:
        floor = np.zeros_like(sizes)
    rest = sizes - floor
    share = (limit - floor.sum()) * rest / rest.sum()
    extra = np.floor(share).astype(np.int64)
    short = int(limit - floor.sum() - extra.sum())
    extra[np.argsort(-(share - extra), kind="stable")[:short]] += 1  # largest remainders
    return floor + extra


def plotted_sample(clustered: pd.DataFrame, limit: int = MAX_PLOTTED_NORMAL_RIDES) -> pd.DataFrame:
    """Every anomaly, and at most `limit` normal rides, chosen evenly within each cluster
    (deterministic), in the frame's order."""
    normal = clustered[~clustered["is_anomaly"]]
    if len(normal) > limit:
        labels = normal["cluster"].to_numpy()
        clusters, sizes = np.unique(labels, return_counts=True)
        positions = []
        for cluster, quota in zip(clusters, cluster_quotas(sizes, limit), strict=True):
            members = np.flatnonzero(labels == cluster)
            positions.append(members[np.linspace(0, len(members) - 1, quota).astype(np.int64)])
        normal = normal.iloc[np.sort(np.concatenate(positions))]
    return pd.concat([normal, clustered[clustered["is_anomaly"]]])


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@dataclass(frozen=True)
class ClusterGroup:
    """One legend entry: a cluster (or the remaining small ones together), its colour."""

    label: str
    colour: str
    clusters: tuple[int, ...]


def cluster_groups(clustered: pd.DataFrame) -> list[ClusterGroup]:
    """The clusters as the plot draws them, largest first: each of the 7 largest in its own
    colour, labelled with its number and its rides over the whole day, the rest together."""
    sizes = clustered.loc[~clustered["is_anomaly"], "cluster"].value_counts(sort=False)
    order = sorted((int(c) for c in sizes.index), key=lambda c: (-int(sizes[c]), c))
    named, others = order[:NAMED_CLUSTERS], order[NAMED_CLUSTERS:]
    if len(others) == 1:
        named, others = order, []
    groups = [
        ClusterGroup(f"cluster {c}: {_count(int(sizes[c]), 'ride')}", CLUSTER_COLOURS[i], (c,))
        for i, c in enumerate(named)
    ]
    if others:
        rides = int(sizes[others].sum())
        label = f"{len(others)} other clusters: {_count(rides, 'ride')}"
        groups.append(ClusterGroup(label, CLUSTER_COLOURS[-1], tuple(others)))
    return groups


def scatter_png(clustered: pd.DataFrame, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    sample = plotted_sample(clustered)
    normal, anomalies = sample[~sample["is_anomaly"]], sample[sample["is_anomaly"]]
    clustered_rides = int((~clustered["is_anomaly"]).sum())
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        for group in cluster_groups(clustered):
            points = normal[normal["cluster"].isin(group.clusters)]
            small = len(points) < 1_000  # a small cluster gets bigger, opaque, outlined dots
            axes.scatter(
                points["ride_dist"],
                points["ride_time"],
                c=group.colour,
                s=18 if small else 4,
                alpha=0.95 if small else 0.45,
                edgecolors="#222222" if small else "none",
                linewidths=0.5 if small else 0,
                label=group.label,
                zorder=3 if small else 2,
            )
        if len(anomalies):
            axes.scatter(
                anomalies["ride_dist"],
                anomalies["ride_time"],
                c=ANOMALY_COLOUR,
                marker="x",
                s=22,
                linewidths=1.2,
                label=f"anomalies: {_count(int(clustered['is_anomaly'].sum()), 'ride')}",
                zorder=4,
            )
        if len(sample) == 0:
            axes.text(0.5, 0.5, "no rides", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("ride distance (km)")
        axes.set_ylabel("ride time (min)")
        axes.set_title(
            f"{title}: {len(normal):,} of {clustered_rides:,} clustered rides drawn"
            if len(normal) < clustered_rides
            else title
        )
        if len(sample):
            legend = axes.legend(loc="upper left", fontsize=8, framealpha=0.9)
            for handle in legend.legend_handles:  # legend dots as clear as the colours they name
                handle.set_alpha(1.0)
                if hasattr(handle, "set_sizes"):
                    handle.set_sizes([30])
        # Fixed margins: tight_layout would draw the whole figure a second time to measure it.
        figure.subplots_adjust(left=0.09, right=0.98, bottom=0.11, top=0.93)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)
