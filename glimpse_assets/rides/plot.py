"""The rides scatter plot: distance against time, coloured by cluster, anomalies marked."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

MAX_PLOTTED_NORMAL_RIDES = 20_000  # plus every anomaly: a million dots say no more than this


def plotted_sample(clustered: pd.DataFrame, limit: int = MAX_PLOTTED_NORMAL_RIDES) -> pd.DataFrame:
    """Every anomaly, and at most `limit` normal rides chosen evenly (deterministic)."""
    normal = clustered[~clustered["is_anomaly"]]
    if len(normal) > limit:
        normal = normal.iloc[np.linspace(0, len(normal) - 1, limit).astype(np.int64)]
    return pd.concat([normal, clustered[clustered["is_anomaly"]]])


def scatter_png(clustered: pd.DataFrame, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    sample = plotted_sample(clustered)
    normal, anomalies = sample[~sample["is_anomaly"]], sample[sample["is_anomaly"]]
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        if len(normal):
            axes.scatter(
                normal["ride_dist"],
                normal["ride_time"],
                c=normal["cluster"],
                cmap="viridis",
                s=4,
                alpha=0.5,
                linewidths=0,
                label="clustered rides",
            )
        if len(anomalies):
            axes.scatter(
                anomalies["ride_dist"],
                anomalies["ride_time"],
                c="#d62728",
                marker="x",
                s=18,
                linewidths=1,
                label=f"anomalies ({len(anomalies)})",
            )
        if len(sample) == 0:
            axes.text(0.5, 0.5, "no rides", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("ride distance (km)")
        axes.set_ylabel("ride time (min)")
        axes.set_title(title)
        if len(sample):
            axes.legend(loc="upper left")
        # Fixed margins: tight_layout would draw the whole figure a second time to measure it.
        figure.subplots_adjust(left=0.09, right=0.98, bottom=0.11, top=0.93)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(figure)
