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

from glimpse_assets.providers.openai_provider import LLM_METHOD
from glimpse_assets.rides.clustering import cluster_rides
from glimpse_assets.rides.conditions import (
    CONTEXT_COLUMNS,
    INVENTED_FROM,
    NEWS_IN_TURN_FROM,
    attach_conditions,
    block_conditions,
)
from glimpse_assets.rides.plot import (
    ANOMALY_COLOUR,
    CLUSTER_COLOURS,
    SMALL_CLUSTER,
    cluster_groups,
    plot_axes,
    scatter_png,
)
from glimpse_assets.rides.report import DayRate, compare_to_history, report_page, report_table
from glimpse_assets.rides.simulate import simulate_rides
from glimpse_assets.rides.summaries import SUMMARY_COLUMNS
from glimpse_assets.rides.summary_text import OFFLINE_SUMMARY_METHOD
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


def news_of(titles: list[str]) -> pd.DataFrame:
    published = [f"2026-03-02 {hour:02d}:00:00+00:00" for hour in range(len(titles))]
    return pd.DataFrame(
        {"id": titles, "title": titles, "published": pd.to_datetime(published, utc=True)}
    )


@pytest.fixture(scope="module")
def clustered() -> pd.DataFrame:
    blocks = block_conditions(
        DAY, news_of(["Harbour reopens", "Bridge shut"]), news_by_publication_time=False
    )
    rides = attach_conditions(simulate_rides(DAY, 3_000), blocks)
    frame, _ = cluster_rides(rides, eps=0.3, min_samples=10)
    assert 0 < frame["is_anomaly"].sum() < len(frame)
    return frame


def summaries_for(
    clustered: pd.DataFrame, hostile: bool = False, method: str = OFFLINE_SUMMARY_METHOD
) -> pd.DataFrame:
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
            "provider": "offline" if method == OFFLINE_SUMMARY_METHOD else "openai",
            "model": "extractive-v1" if method == OFFLINE_SUMMARY_METHOD else "gpt-test",
            "method": method,
            **{column: anomalies[column].astype(str).to_numpy() for column in CONTEXT_COLUMNS},
            "facts": "Between 15:00 and 18:00 in Port Aldermere, 2 of the day's 3,000 rides "
            "stood out.",
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
        "summary_method",
    ]
    pd.testing.assert_frame_equal(table[clustered.columns], clustered)


@pytest.mark.slow
def test_report_table_joins_summaries_onto_anomalous_rides_only(clustered):
    summaries = summaries_for(clustered)
    table = report_table(clustered, summaries)

    anomalous = table[table["is_anomaly"]]
    normal = table[~table["is_anomaly"]]
    expected = summaries.set_index("ride_id")["summary"]
    assert anomalous["summary"].tolist() == expected.loc[anomalous["ride_id"]].tolist()
    assert (anomalous["summary_provider"] == "offline").all()
    assert (anomalous["summary_model"] == "extractive-v1").all()
    assert (anomalous["summary_method"] == OFFLINE_SUMMARY_METHOD).all()
    written = ["summary", "summary_provider", "summary_model", "summary_method"]
    assert normal[written].isna().all().all()


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


@pytest.mark.slow
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


def summary_rows(page: str) -> list[str]:
    section = page[page.index("<h2>What may explain the anomalies</h2>") :]
    return re.findall(r"<tr><td>[\d,]+</td>.*?</tr>", section)


def test_report_page_lists_each_summary_with_its_ride_count(normal_page):
    page, _, summaries = normal_page
    rows = summary_rows(page)
    assert len(rows) == summaries["summary"].nunique()
    for summary, rides in summaries["summary"].value_counts().items():
        (row,) = [row for row in rows if f"<td>{escape(summary)}<p" in row]
        assert row.startswith(f"<tr><td>{rides:,}</td>")


def test_report_page_says_where_each_condition_came_from(normal_page):
    page, table, _ = normal_page
    anomalous = table[table["is_anomaly"]]
    for row in summary_rows(page):
        assert "<b>News:</b>" in row and "<b>Weather:</b>" in row and "<b>Traffic:</b>" in row
        assert f"[{escape(NEWS_IN_TURN_FROM)}]" in row
        assert row.count(f"[{escape(INVENTED_FROM)}]") == 2  # weather and traffic
    for news in anomalous["news"].astype(str).unique():
        assert escape(news) in page


@pytest.mark.slow
def test_report_page_says_an_offline_summary_is_extractive_not_an_llm(normal_page):
    page, _, _ = normal_page
    for row in summary_rows(page):
        by = f"written by: {escape(OFFLINE_SUMMARY_METHOD)} (offline, extractive-v1)"
        assert by in row
        assert "extractive, not an LLM" in row


def test_report_page_names_the_llm_that_wrote_a_summary(clustered):
    table = report_table(clustered, summaries_for(clustered, method=LLM_METHOD))
    page = report_page(CITY, today_of(table), [], table, scatter_png(table, DAY_KEY))
    rows = summary_rows(page)
    assert rows and all(f"written by: {LLM_METHOD} (openai, gpt-test)" in row for row in rows)
    assert "not an LLM" not in page


def test_report_page_of_a_table_stored_before_the_sources_were_recorded(clustered):
    old_columns = [c for c in clustered.columns if not c.endswith("_from")]
    summaries = summaries_for(clustered).drop(columns="method")
    table = report_table(clustered[old_columns], summaries)
    page = report_page(CITY, today_of(table), [], table, scatter_png(table, DAY_KEY))
    for row in summary_rows(page):
        assert row.count("[not recorded]") == 3
        assert "written by: extractive, not an LLM (offline, extractive-v1)" in row


@pytest.mark.slow
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


# -- the plot: clusters told apart, anomalies marked, small clusters shown ----------------------


def relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_cluster_colours_are_distinct_strong_on_white_and_never_the_anomaly_red():
    assert len(set(CLUSTER_COLOURS)) == len(CLUSTER_COLOURS)
    assert ANOMALY_COLOUR not in CLUSTER_COLOURS
    for colour in CLUSTER_COLOURS:
        contrast = 1.05 / (relative_luminance(colour) + 0.05)  # against white
        assert contrast >= 3.0, colour  # WCAG's 3:1 for graphics; viridis' #fde725 is 1.26


def two_clusters(big: int, small: int, anomalies: int = 5) -> pd.DataFrame:
    """A big cluster near the origin, a small one far from it, and a few anomalies."""
    rng = np.random.default_rng(11)
    count = big + small + anomalies
    cluster = np.array([0] * big + [1] * small + [-1] * anomalies)
    dist = np.where(cluster == 0, rng.uniform(1, 8, count), rng.uniform(20, 22, count))
    dist[cluster == -1] = rng.uniform(10, 15, anomalies)
    time = np.where(cluster == 1, 60.0, dist * 2.0)
    return pd.DataFrame(
        {
            "ride_id": [f"r{i:07d}" for i in range(count)],
            "ride_dist": dist,
            "ride_time": time,
            "cluster": cluster,
            "is_anomaly": cluster == -1,
        }
    )


def test_the_legend_names_every_cluster_with_its_rides_in_its_own_colour():
    frame = two_clusters(big=900, small=40)
    groups = cluster_groups(frame)
    assert [g.label for g in groups] == ["cluster 0: 900 rides", "cluster 1: 40 rides"]
    assert [g.clusters for g in groups] == [(0,), (1,)]
    assert len({g.colour for g in groups}) == 2


def test_clusters_past_the_seventh_share_one_legend_entry():
    frame = pd.concat(
        [two_clusters(big=10 + n, small=0, anomalies=0).assign(cluster=n) for n in range(10)],
        ignore_index=True,
    )
    groups = cluster_groups(frame)
    assert len(groups) == 8
    assert groups[0].label == "cluster 9: 19 rides"  # largest first
    assert groups[-1].label == "3 other clusters: 33 rides"
    assert groups[-1].clusters == (2, 1, 0)
    assert len({g.colour for g in groups}) == 8


def pixels_near(image: Image.Image, colour: str, tolerance: int = 40) -> int:
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    rgb = np.asarray(image.convert("RGB")).astype(int)
    return int((np.abs(rgb - target).max(axis=2) <= tolerance).sum())


def test_the_rendered_plot_shows_the_second_cluster_and_the_anomalies_in_their_colours():
    frame = two_clusters(big=5_000, small=30, anomalies=20)
    second = cluster_groups(frame)[1].colour
    image = assert_png(scatter_png(frame, DAY_KEY))
    assert pixels_near(image, second) > 100  # a pale yellow at half alpha would not be
    assert pixels_near(image, ANOMALY_COLOUR) > 100


def rgb_at(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return image.convert("RGB").getpixel((int(x), int(y)))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_every_anomaly_is_a_red_cross_at_its_place():
    frame = two_clusters(big=5_000, small=30, anomalies=20)
    image = assert_png(scatter_png(frame, DAY_KEY))
    anomalies = frame[frame["is_anomaly"]]
    xs, ys = plot_axes(frame).to_pixels(anomalies["ride_dist"], anomalies["ride_time"])
    for x, y in zip(xs, ys, strict=True):
        assert rgb_at(image, x, y) == hex_rgb(ANOMALY_COLOUR), (x, y)


def test_a_big_cluster_is_shaded_in_its_colour_where_its_rides_are():
    frame = two_clusters(big=5_000, small=30, anomalies=0)
    colour = np.array(hex_rgb(cluster_groups(frame)[0].colour))
    image = np.asarray(assert_png(scatter_png(frame, DAY_KEY)).convert("RGB")).astype(int)
    rides = frame[frame["cluster"] == 0]
    xs, ys = plot_axes(frame).to_pixels(rides["ride_dist"], rides["ride_time"])
    pixels = image[ys, xs]
    # Each pixel is the colour laid over white at 40% to 100%: never white, never another hue.
    white = np.array([255, 255, 255])
    alpha = (white - pixels) / (white - colour)
    assert (alpha.min(axis=1) >= 0.35).all()
    assert (np.abs(alpha.max(axis=1) - alpha.min(axis=1)) <= 0.1).all()
    assert (pixels == colour).all(axis=1).any()  # where rides are densest, the colour itself


def test_a_small_cluster_of_a_million_ride_day_shows_in_its_own_colour_at_its_rides():
    frame = two_clusters(big=1_000_000, small=13)
    second = cluster_groups(frame)[1]
    assert second.clusters == (1,) and SMALL_CLUSTER > 13
    image = assert_png(scatter_png(frame, DAY_KEY))
    small = frame[frame["cluster"] == 1]
    xs, ys = plot_axes(frame).to_pixels(small["ride_dist"], small["ride_time"])
    assert all(rgb_at(image, x, y) == hex_rgb(second.colour) for x, y in zip(xs, ys, strict=True))
    assert pixels_near(image, second.colour, tolerance=0) >= 13 * 20  # dots, not single pixels


def test_the_legend_does_not_hide_an_anomaly_or_a_cluster():
    """Rides fill the lower left and upper right: the legend goes to a free corner."""
    rng = np.random.default_rng(3)
    dist = np.concatenate([rng.uniform(0, 4, 3_000), rng.uniform(16, 20, 3_000), [10.0]])
    time = np.concatenate([rng.uniform(0, 10, 3_000), rng.uniform(50, 60, 3_000), [30.0]])
    cluster = np.array([0] * 3_000 + [1] * 3_000 + [-1])
    frame = pd.DataFrame(
        {"ride_dist": dist, "ride_time": time, "cluster": cluster, "is_anomaly": cluster == -1}
    )
    image = assert_png(scatter_png(frame, DAY_KEY))
    colours = {hex_rgb(g.colour) for g in cluster_groups(frame)}
    xs, ys = plot_axes(frame).to_pixels(dist, time)
    seen = {rgb_at(image, x, y) for x, y in zip(xs[:-1], ys[:-1], strict=True)}
    assert colours <= seen
    assert rgb_at(image, xs[-1], ys[-1]) == hex_rgb(ANOMALY_COLOUR)


def test_the_plot_is_drawn_the_same_for_the_same_rides():
    from glimpse_assets.rides.plot import _draw_png  # drawn twice, not the kept plot

    frame = two_clusters(big=2_000, small=20)
    assert _draw_png(frame, DAY_KEY) == _draw_png(frame.copy(), DAY_KEY)


def test_a_plot_kept_from_the_last_call_is_never_one_of_other_rides():
    frame = two_clusters(big=2_000, small=20, anomalies=5)
    first = scatter_png(frame, DAY_KEY)
    moved = frame.copy()
    moved.loc[0, "ride_time"] += 30.0  # one ride elsewhere
    relabelled = frame.copy()
    relabelled.loc[0, ["cluster", "is_anomaly"]] = [-1, True]  # one ride now an anomaly
    assert scatter_png(moved, DAY_KEY) != first
    assert scatter_png(relabelled, DAY_KEY) != first
    assert scatter_png(frame, "another day") != first
    assert scatter_png(frame, DAY_KEY) == first
    # A report table (more columns, the same rides) gets the clustered rides' plot.
    assert scatter_png(frame.assign(summary="a closed bridge"), DAY_KEY) == first
