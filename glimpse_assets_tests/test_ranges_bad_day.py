"""One bad day does not block a range (issue 11, item 6).

A single-run range over three days whose middle day has no news: the blocking check
`raw_news_has_articles` fails for that day only, so every asset downstream skips that day and
stores and records nothing for it, while the good days are stored and flow on through both
chains, byte for byte what day-by-day runs store. The run says which day it skipped and why.
"""

import dagster as dg
import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.news.sources import NewsBatch, SampleNewsSource
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.ranges import (
    ALL_ASSETS,
    ALL_CHECKS,
    ASSET_FOLDERS,
    check_evaluations,
    offline_env,
    range_tags,
    whole_store,
)

GOOD, BAD, LATER = "2026-03-01", "2026-03-02", "2026-03-03"


class NoNewsOn(SampleNewsSource):
    """The sample news, except for one day that has none."""

    empty_day: str = BAD

    def fetch_day(self, day):
        return NewsBatch([]) if day.isoformat() == self.empty_day else super().fetch_day(day)


def run(root, instance, empty_day=BAD, **kwargs) -> dg.ExecuteInProcessResult:
    resources = {
        **build_definitions(offline_env(root)).resources,
        "news_source": NoNewsOn(empty_day=empty_day),
    }
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        resources=resources,
        instance=instance,
        raise_on_error=False,
        **kwargs,
    )


def recorded(result: dg.ExecuteInProcessResult) -> set[tuple[str, str]]:
    return {
        (event.asset_key.to_user_string(), event.partition)
        for event in result.get_asset_materialization_events()
    }


def warnings_of(instance, run_id: str) -> list[str]:
    return [
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.level == 30 and entry.dagster_event is None  # logging.WARNING, a step's own line
    ]


@pytest.mark.slow
def test_an_empty_news_day_stops_that_day_only_and_the_good_days_flow_on(tmp_path):
    by_day_root, range_root = tmp_path / "by_day", tmp_path / "range"
    with dg.instance_for_test() as instance:
        by_day = {day: run(by_day_root, instance, partition_key=day) for day in (GOOD, BAD, LATER)}
    # One day on its own, as before: the empty day stops everything below raw_news.
    assert recorded(by_day[BAD]) == {("raw_news", BAD)}
    assert by_day[GOOD].success and by_day[LATER].success

    with dg.instance_for_test() as instance:
        result = run(range_root, instance, tags=range_tags(GOOD, LATER))
        warnings = warnings_of(instance, result.run_id)
        latest = {
            name: instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(name), asset_partitions=[BAD]),
                limit=1,
            ).records
            for name in ASSET_FOLDERS
        }

    assert result.success, failure_text(result)
    # Stored: the good days of every asset, and the bad day's raw_news only, exactly what the
    # day-by-day runs stored.
    assert whole_store(range_root) == whole_store(by_day_root)
    assert not [path for path in range_root.rglob(f"{BAD}*") if "raw_news" not in path.parts]
    # Recorded: a materialisation for each good day of every asset; for the bad day, raw_news's.
    good_days = {(name, day) for name in ASSET_FOLDERS for day in (GOOD, LATER)}
    assert recorded(result) == good_days | {("raw_news", BAD)}
    assert {name for name, records in latest.items() if records} == {"raw_news"}
    # The check failed for the bad day only, and the range's result names it.
    evaluations = check_evaluations(result)
    per_day = {
        e.partition: e
        for e in evaluations
        if e.check_name == "raw_news_has_articles" and e.partition
    }
    assert {day for day, e in per_day.items() if not e.passed} == {BAD}
    assert per_day[BAD].severity == dg.AssetCheckSeverity.ERROR
    (summary,) = [
        e for e in evaluations if e.check_name == "raw_news_has_articles" and e.partition is None
    ]
    assert not summary.passed and summary.severity == dg.AssetCheckSeverity.WARN
    assert BAD in summary.description and "skip" in summary.description
    assert summary.metadata["failed_days"].value == BAD
    # Each step below says which day it skipped, and why.
    assert "news_digest: skipped 2026-03-02 (raw_news_has_articles failed)" in "\n".join(warnings)
    assert "raw_rides: skipped 2026-03-02 (raw_news_has_articles failed)" in "\n".join(warnings)
    assert any(
        line.startswith("image_prompt: skipped 2026-03-02 (news_digest was not stored for it")
        for line in warnings
    )


@pytest.mark.slow
def test_a_range_whose_every_day_is_empty_stops_downstream_as_one_day_does(tmp_path):
    root = tmp_path / "storage"

    class NoNews(SampleNewsSource):
        def fetch_day(self, day):
            return NewsBatch([])

    resources = {**build_definitions(offline_env(root)).resources, "news_source": NoNews()}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [*ALL_ASSETS, *ALL_CHECKS],
            resources=resources,
            instance=instance,
            raise_on_error=False,
            tags=range_tags(GOOD, BAD),
        )

    assert recorded(result) == {("raw_news", GOOD), ("raw_news", BAD)}
    assert sorted(path.name for path in root.iterdir() if not path.name.startswith(".")) == [
        "raw_news"
    ]
    (summary,) = [
        e
        for e in check_evaluations(result)
        if e.check_name == "raw_news_has_articles" and e.partition is None
    ]
    assert not summary.passed and summary.severity == dg.AssetCheckSeverity.ERROR
