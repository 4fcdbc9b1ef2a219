"""Each source is fetched once a day: raw_news belongs to news_job alone, and rides_job runs the
rides chain on the day's stored raw_news, never fetching the news itself. What starts it after
the news is declarative automation (test_automation.py), not a schedule."""

import dagster as dg
import pytest

from glimpse_assets.definitions import build_definitions

RIDES_ASSETS = {
    "raw_rides",
    "clustered_rides",
    "anomaly_summaries",
    "rides_report",
    "rides_report_page",
}


@pytest.fixture
def defs(tmp_path) -> dg.Definitions:
    return build_definitions({"GLIMPSE_STORAGE_URI": str(tmp_path / "storage")})


def test_rides_job_does_not_include_raw_news_but_keeps_its_checks(defs):
    job = defs.resolve_job_def("rides_job")

    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == RIDES_ASSETS
    check_names = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert "raw_news_has_articles" not in check_names
    assert {"clustered_rides_are_all_labelled", "anomaly_rate_is_within_band"} <= check_names


def test_no_rides_schedule_the_rides_chain_follows_the_news_by_automation(defs):
    repository = defs.get_repository_def()
    # The news chain's, the stories' and the answers' morning schedules; rides start after the
    # news.
    assert {s.job_name for s in repository.schedule_defs} == {
        "news_job",
        "stories_job",
        "answers_job",
    }
    graph = defs.resolve_asset_graph()
    conditions = {
        name: graph.get(dg.AssetKey(name)).automation_condition.get_label() for name in RIDES_ASSETS
    }
    assert conditions == {
        "raw_rides": "follows_upstream_day",
        **{name: "with_its_chain" for name in RIDES_ASSETS - {"raw_rides"}},
    }
    assert graph.get(dg.AssetKey("raw_rides")).parent_keys == {dg.AssetKey("raw_news")}
