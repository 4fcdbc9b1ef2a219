"""The rides report: the table, the comparison with earlier days, the page and its plot."""

from __future__ import annotations

import base64
import io
import re
from datetime import date
from html import escape

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from glimpse_assets.rides.clustering import cluster_rides
from glimpse_assets.rides.conditions import CONTEXT_COLUMNS, attach_conditions
from glimpse_assets.rides.plot import plotted_sample, scatter_png
from glimpse_assets.rides.report import DayRate, compare_to_history, report_page, report_table
from glimpse_assets.rides.simulate import simulate_rides
from glimpse_assets.rides.summaries import SUMMARY_COLUMNS
from glimpse_assets.storage.formats import HtmlDocument

DAY = date(2026, 3, 2)
DAY_KEY = DAY.isoformat()
CITY = "Port Aldermere"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HOSTILE_SUMMARY = "<script>alert('rides')</script> & a closed bridge"
HISTORY = [
    DayRate("2026-02-28", 10_000, 150),
    DayRate("2026-03-01", 12_000, 360),
]


@pytest.fixture(scope="module")
def clustered() -> pd.DataFrame:
    rides = attach_conditions(simulate_rides(DAY, 3_000), DAY, ["Harbour reopens", "Bridge shut"])
    frame, _ = cluster_rides(rides, eps=0.3, min_samples=10)
    assert 0 < frame["is_anomaly"].sum() < len(frame)
    return frame


def summaries_for(clustered: pd.DataFrame, hostile: bool = False) -> pd.DataFrame:
    """What summarise_anomalies stores: one row per anomalous ride, one text per context."""
    anomalies = clustered[clustered["is_anomaly"]]
    keys = anomalies[CONTEXT_COLUMNS].astype(str).agg(" | ".join, axis=1)
    contexts = sorted(set(keys))
    text = {key: f"Summary {number}" for number, key in enumerate(contexts)}
    if hostile:
        text[contexts[0]] = HOSTILE_SUMMARY
    return pd.DataFrame(
        {
            "ride_id": anomalies["ride_id"].to_numpy(),
            "cluster": anomalies["cluster"].to_numpy(),
            "ride_dist": anomalies["ride_dist"].to_numpy(),
            "ride_time": anomalies["ride_time"].to_numpy(),
            "summary": [text[key] for key in keys],
            "provider": "offline",
            "model": "extractive-v1",
        }
    )[SUMMARY_COLUMNS]


def empty_summaries() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in SUMMARY_COLUMNS})


def today_of(table: pd.DataFrame) -> DayRate:
    return DayRate(DAY_KEY, len(table), int(table["is_anomaly"].sum()))


def png_in(page: str) -> bytes:
    match = re.search(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, "no inline PNG in the page"
    return base64.b64decode(match.group(1), validate=True)


def assert_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    assert image.width > 100 and image.height > 100
    return image


# -- report_table ----------------------------------------------------------------------------------


def test_report_table_keeps_every_ride_in_order(clustered):
    table = report_table(clustered, summaries_for(clustered))
    assert len(table) == len(clustered)
    assert table["ride_id"].tolist() == clustered["ride_id"].tolist()
    assert list(table.columns) == [
        *clustered.columns,
        "summary",
        "summary_provider",
        "summary_model",
    ]
    pd.testing.assert_frame_equal(table[clustered.columns], clustered)


def test_report_table_joins_summaries_onto_anomalous_rides_only(clustered):
    summaries = summaries_for(clustered)
    table = report_table(clustered, summaries)

    anomalous = table[table["is_anomaly"]]
    normal = table[~table["is_anomaly"]]
    expected = summaries.set_index("ride_id")["summary"]
    assert anomalous["summary"].tolist() == expected.loc[anomalous["ride_id"]].tolist()
    assert (anomalous["summary_provider"] == "offline").all()
    assert (anomalous["summary_model"] == "extractive-v1").all()
    assert normal[["summary", "summary_provider", "summary_model"]].isna().all().all()


def test_report_table_without_anomaly_summaries_keeps_every_ride(clustered):
    table = report_table(clustered, empty_summaries())
    assert len(table) == len(clustered)
    assert table["summary"].isna().all()


# -- compare_to_history ----------------------------------------------------------------------------


def test_compare_higher_than_history():
    # History rates 1.50% and 3.00%: mean 2.25%.
    text = compare_to_history(DayRate(DAY_KEY, 1_000, 50), HISTORY)
    assert text == (
        "Today's anomaly rate, 5.00%, is higher than the mean of the previous 2 day(s), 2.25%."
    )


def test_compare_lower_than_history():
    text = compare_to_history(DayRate(DAY_KEY, 1_000, 10), HISTORY)
    assert "1.00%, is lower than the mean of the previous 2 day(s), 2.25%" in text


def test_compare_equal_to_history():
    history = [DayRate("2026-02-28", 100, 2), DayRate("2026-03-01", 200, 4)]
    text = compare_to_history(DayRate(DAY_KEY, 50, 1), history)
    assert "2.00%, is equal to the mean of the previous 2 day(s), 2.00%" in text


def test_compare_ignores_history_days_without_rides():
    history = [DayRate("2026-02-27", 0, 0), DayRate("2026-02-28", 100, 4)]
    text = compare_to_history(DayRate(DAY_KEY, 100, 1), history)
    assert "lower than the mean of the previous 1 day(s), 4.00%" in text


@pytest.mark.parametrize("history", [[], [DayRate("2026-03-01", 0, 0)]])
def test_compare_without_history(history):
    text = compare_to_history(DayRate(DAY_KEY, 100, 3), history)
    assert text == "No earlier day in the previous 7 has a stored anomaly rate to compare with."


def test_compare_with_no_rides_today():
    text = compare_to_history(DayRate(DAY_KEY, 0, 0), HISTORY)
    assert text == "No rides today, so there is no anomaly rate to compare."


def test_day_rate():
    assert DayRate(DAY_KEY, 200, 5).rate == 0.025
    assert DayRate(DAY_KEY, 0, 0).rate is None


# -- report_page -----------------------------------------------------------------------------------


def test_report_page_for_a_day_without_rides(clustered):
    empty = report_table(clustered.iloc[:0], empty_summaries())
    page = report_page(CITY, DayRate(DAY_KEY, 0, 0), HISTORY, empty, scatter_png(empty, DAY_KEY))
    assert isinstance(page, HtmlDocument)
    assert f"No rides for {DAY_KEY}" in page
    assert f"Rides report for {DAY_KEY}, {CITY}" in page
    assert "<img" not in page


@pytest.fixture(scope="module")
def normal_page(clustered) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    summaries = summaries_for(clustered, hostile=True)
    table = report_table(clustered, summaries)
    page = report_page(CITY, today_of(table), HISTORY, table, scatter_png(table, DAY_KEY))
    return page, table, summaries


def test_report_page_shows_the_days_counts(normal_page):
    page, table, _ = normal_page
    today = today_of(table)
    clusters = table.loc[table["cluster"] >= 0, "cluster"].nunique()
    assert isinstance(page, HtmlDocument)
    assert page.startswith("<!doctype html>")
    assert f"<title>Rides report for {DAY_KEY}, {CITY}</title>" in page
    assert "<tr><th>rides</th><td>3,000</td></tr>" in page
    assert f"<tr><th>clusters</th><td>{clusters}</td></tr>" in page
    assert f"<tr><th>anomalous rides</th><td>{today.anomalies:,}</td></tr>" in page
    assert f"<tr><th>anomaly rate</th><td>{today.anomalies / 3_000:.2%}</td></tr>" in page
    assert "No rides for" not in page


def test_report_page_has_the_history_table_and_comparison(normal_page):
    page, table, _ = normal_page
    today = today_of(table)
    assert "<tr><td>2026-02-28</td><td>10,000</td><td>150</td><td>1.50%</td></tr>" in page
    assert "<tr><td>2026-03-01</td><td>12,000</td><td>360</td><td>3.00%</td></tr>" in page
    today_row = (
        f"<tr><td>{DAY_KEY}</td><td>3,000</td><td>{today.anomalies}</td>"
        f"<td>{today.rate:.2%}</td></tr>"
    )
    assert today_row in page
    # Earlier days first, today last.
    assert page.index("2026-02-28</td>") < page.index("2026-03-01</td>") < page.index(today_row)
    assert escape(compare_to_history(today, HISTORY)) in page


def test_report_page_embeds_the_plot_as_a_png(normal_page):
    page, _, _ = normal_page
    image = assert_png(png_in(page))
    assert image.size == (700, 450)


def test_report_page_lists_each_summary_with_its_ride_count(normal_page):
    page, _, summaries = normal_page
    for summary, rides in summaries["summary"].value_counts().items():
        assert f"<tr><td>{rides:,}</td><td>{escape(summary)}</td></tr>" in page


def test_report_page_escapes_summaries(normal_page):
    page, _, _ = normal_page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;rides&#x27;)&lt;/script&gt; &amp; a closed bridge" in page


def test_report_page_escapes_the_city():
    table = report_table(cluster_rides(simulate_rides(DAY, 50))[0], empty_summaries())
    page = report_page("A & <B>", today_of(table), [], table, scatter_png(table, DAY_KEY))
    assert "A &amp; &lt;B&gt;" in page
    assert "<B>" not in page


# -- plot ------------------------------------------------------------------------------------------


def test_scatter_png_for_a_normal_day(clustered):
    assert_png(scatter_png(clustered, DAY_KEY))


def test_scatter_png_for_an_empty_frame(clustered):
    assert_png(scatter_png(clustered.iloc[:0], DAY_KEY))


@pytest.mark.parametrize("anomalies", [True, False])
def test_scatter_png_when_every_ride_is_of_one_kind(clustered, anomalies):
    only = clustered[clustered["is_anomaly"] == anomalies]
    assert len(only) > 0
    assert_png(scatter_png(only, DAY_KEY))


def labelled(normal: int, anomalies: int) -> pd.DataFrame:
    count = normal + anomalies
    is_anomaly = np.zeros(count, dtype=bool)
    is_anomaly[np.random.default_rng(5).choice(count, anomalies, replace=False)] = True
    return pd.DataFrame(
        {
            "ride_id": [f"r{i:05d}" for i in range(count)],
            "ride_dist": np.linspace(0.1, 10, count),
            "ride_time": np.linspace(1, 30, count),
            "cluster": np.where(is_anomaly, -1, 0),
            "is_anomaly": is_anomaly,
        }
    )


def test_plotted_sample_keeps_every_anomaly_and_caps_normal_rides():
    frame = labelled(normal=1_000, anomalies=37)
    sample = plotted_sample(frame, limit=100)

    assert int(sample["is_anomaly"].sum()) == 37
    assert set(frame.loc[frame["is_anomaly"], "ride_id"]) <= set(sample["ride_id"])
    normal = sample[~sample["is_anomaly"]]
    assert len(normal) == 100
    assert normal["ride_id"].is_unique
    all_normal = frame.loc[~frame["is_anomaly"], "ride_id"]
    assert set(normal["ride_id"]) <= set(all_normal)
    # Chosen evenly, from the first normal ride to the last.
    assert normal["ride_id"].iloc[0] == all_normal.iloc[0]
    assert normal["ride_id"].iloc[-1] == all_normal.iloc[-1]


def test_plotted_sample_is_deterministic():
    frame = labelled(normal=5_000, anomalies=20)
    pd.testing.assert_frame_equal(plotted_sample(frame, 250), plotted_sample(frame, 250))


@pytest.mark.parametrize("limit", [500, 1_000])
def test_plotted_sample_keeps_everything_under_the_limit(limit):
    frame = labelled(normal=500, anomalies=12)
    sample = plotted_sample(frame, limit=limit)
    assert sorted(sample["ride_id"]) == sorted(frame["ride_id"])


def test_plotted_sample_default_limit_is_20000():
    frame = labelled(normal=25_000, anomalies=3)
    sample = plotted_sample(frame)
    assert (~sample["is_anomaly"]).sum() == 20_000
    assert sample["is_anomaly"].sum() == 3
