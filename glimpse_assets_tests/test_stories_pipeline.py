"""The stories chain as Dagster runs it: strava_activities -> activity_stories and its check,
offline and through a local OpenAI-compatible server, the Strava source against a local Strava
double, the sensor and the morning schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_provider import LLM_METHOD, OpenAITextProvider
from glimpse_assets.stories.activities import activities_frame, sample_activities_for_day
from glimpse_assets.stories.assets import activity_stories, stories_assets, strava_activities
from glimpse_assets.stories.checks import stories_checks
from glimpse_assets.stories.sensors import build_strava_activities_sensor, stories_daily_schedule
from glimpse_assets.stories.sources import (
    TOKENS_PREFIX,
    SampleActivitySource,
    StravaActivitySource,
    utc_day,
)
from glimpse_assets.stories.story_text import OFFLINE_STORY_METHOD, parse_story
from glimpse_assets.stories.strava import TOKEN_RECORD
from glimpse_assets_tests.support.fake_openai import CHAT, answer
from glimpse_assets_tests.support.strava_double import (
    CLIENT_ID,
    CLIENT_SECRET,
    FIRST_REFRESH_TOKEN,
    StravaDouble,
    activity,
)

DAYS = ["2026-03-01", "2026-03-02"]
CHECK = "activity_stories_use_real_numbers"


def stored(root, asset: str, day: str) -> bytes:
    return (root / asset / f"{day}.parquet").read_bytes()


def stored_frame(root, asset: str, day: str):
    import pandas as pd

    return pd.read_parquet(root / asset / f"{day}.parquet")


def openai_provider(fake, resources) -> OpenAITextProvider:
    return OpenAITextProvider(
        openai=OpenAIClient(api_key="sk-test", base_url=fake.base_url),
        calls=LLMCalls(object_store=resources["object_store"], max_concurrency=3),
        model="gpt-4o-mini",
    )


def materialize_day(resources, day: str, **overrides) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*stories_assets, *stories_checks],
        partition_key=day,
        resources={"strava_source": SampleActivitySource(), **resources, **overrides},
        raise_on_error=False,
    )


def check_result(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def expected_activities(day: str) -> list[dict]:
    """The sample activities that started on `day` in UTC (drawn from local days around it)."""
    from datetime import date

    the_day = date.fromisoformat(day)
    drawn = [
        item
        for offset in (-1, 0, 1)
        for item in sample_activities_for_day(the_day + timedelta(days=offset))
    ]
    return [item for item in drawn if utc_day(item["start_date"]) == the_day]


def test_two_offline_days_store_one_honest_story_per_activity(offline_resources, storage_root):
    for day in DAYS:
        result = materialize_day(offline_resources, day)
        assert result.success
        assert check_result(result).passed
        activities = stored_frame(storage_root, "strava_activities", day)
        stories = stored_frame(storage_root, "activity_stories", day)
        expected = expected_activities(day)
        assert sorted(activities["activity_id"]) == sorted(item["id"] for item in expected)
        assert list(stories["activity_id"]) == list(activities["activity_id"])
        assert set(stories["provider"]) == {"offline"}
        assert set(stories["method"]) == {OFFLINE_STORY_METHOD}
        for title, story in zip(stories["title"], stories["story"], strict=True):
            assert parse_story(json.dumps({"title": title, "story": story})) == (title, story)
        metadata = result.asset_materializations_for_node("activity_stories")[0].metadata
        assert metadata["stories"].value == len(activities)
        assert metadata["provider_calls"].value == 0
        assert "not an LLM" in metadata["method"].value


def test_an_offline_rerun_stores_identical_objects(offline_resources, storage_root):
    materialize_day(offline_resources, DAYS[0])
    first = {a: stored(storage_root, a, DAYS[0]) for a in ("strava_activities", "activity_stories")}
    assert materialize_day(offline_resources, DAYS[0]).success
    again = {a: stored(storage_root, a, DAYS[0]) for a in ("strava_activities", "activity_stories")}
    assert again == first


@pytest.mark.slow
def test_stories_through_an_openai_server_once_then_from_the_cache(
    offline_resources, storage_root, fake
):
    provider = openai_provider(fake, offline_resources)
    first = {}
    activity_count = 0
    for day in DAYS:
        result = materialize_day(offline_resources, day, text_provider=provider)
        assert result.success, day
        assert check_result(result).passed
        activity_count += len(stored_frame(storage_root, "strava_activities", day))
        first[day] = stored(storage_root, "activity_stories", day)
        stories = stored_frame(storage_root, "activity_stories", day)
        assert set(stories["method"]) == {LLM_METHOD}
        assert set(stories["model"]) == {"gpt-4o-mini"}
    assert fake.count(CHAT) == activity_count
    # Every request asked for the story schema as structured output, with units in the prompt.
    for exchange in fake.answered(CHAT):
        response_format = exchange.body["response_format"]
        assert response_format["type"] == "json_schema"
        assert response_format["json_schema"]["schema"]["required"] == ["title", "story"]
        prompt = exchange.body["messages"][-1]["content"]
        assert "Moving time:" in prompt and "minutes" in prompt

    for day in DAYS:
        result = materialize_day(offline_resources, day, text_provider=provider)
        assert result.success
        metadata = result.asset_materializations_for_node("activity_stories")[0].metadata
        assert metadata["llm_requests"].value == 0
        assert stored(storage_root, "activity_stories", day) == first[day]
    assert fake.count(CHAT) == activity_count  # not one request more


def test_a_story_that_invents_a_distance_fails_the_blocking_check(
    offline_resources, storage_root, fake
):
    day = DAYS[1]
    count = len(expected_activities(day))
    invented = json.dumps(
        {
            "title": "A long day out",
            "story": "You covered 142.7 km today, far more than anyone expected of you. "
            + "The legs were strong and the sky was wide and blue above the road. " * 2,
        }
    )
    fake.script(CHAT, *[answer(invented)] * count)
    result = materialize_day(
        offline_resources, day, text_provider=openai_provider(fake, offline_resources)
    )
    evaluation = check_result(result)
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "142.7" in evaluation.description
    assert evaluation.metadata["stories_with_invented_numbers"].value == count


def test_a_malformed_answer_is_rejected_with_its_reason(offline_resources, storage_root, fake):
    day = DAYS[0]
    fake.always(CHAT, answer(json.dumps({"story": "no title here"})))
    result = materialize_day(
        offline_resources, day, text_provider=openai_provider(fake, offline_resources)
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "has no title text" in message
    assert "IndexError" not in message
    assert not (storage_root / "activity_stories" / f"{day}.parquet").exists()


# -- the Strava source ------------------------------------------------------------------------

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def strava_source(strava: StravaDouble) -> StravaActivitySource:
    return StravaActivitySource(
        api_url=strava.url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=FIRST_REFRESH_TOKEN,
    )


def test_strava_activities_from_strava_keep_the_day_and_the_rotated_token(
    offline_resources, local_store
):
    on_the_day = [activity(n, DAY + timedelta(hours=6, minutes=n)) for n in range(3)]
    around = [activity(10, DAY - timedelta(seconds=1)), activity(11, DAY + timedelta(days=1))]
    with StravaDouble([*on_the_day, *around, on_the_day[0]]) as strava:
        result = dg.materialize(
            [strava_activities],
            partition_key="2026-03-02",
            resources={**offline_resources, "strava_source": strava_source(strava)},
        )
        assert result.success
        assert strava.grants == 1
        rotated = strava.refresh_token
    frame = offline_resources["io_manager"].store  # the same store the IO manager wrote
    stored_days = frame.list("strava_activities")
    assert stored_days == ["strava_activities/2026-03-02.parquet"]
    metadata = result.asset_materializations_for_node("strava_activities")[0].metadata
    assert metadata["activities"].value == 3
    assert metadata["duplicates_dropped"].value == 1
    assert metadata["source"].value == "strava"
    record = local_store.records(TOKENS_PREFIX).get(TOKEN_RECORD)
    assert record["refresh_token"] == rotated != FIRST_REFRESH_TOKEN
    text = json.dumps({k: str(v.value) for k, v in metadata.items()})
    assert rotated not in text and CLIENT_SECRET not in text


def test_a_lone_surrogate_in_a_strava_name_is_cleaned_and_the_day_stored(
    offline_resources, storage_root
):
    """Strava's JSON may escape half a UTF-16 pair ("\\ud83c"), which json.loads keeps and no
    UTF-8 writer takes: the name is cleaned as the news text is, on every run of the day."""
    broken = activity(1, DAY + timedelta(hours=7), name="Sunrise \ud83c ride\u200b")
    fine = activity(2, DAY + timedelta(hours=9), name="Évening loop 🌅")
    with StravaDouble([broken, fine]) as strava:
        resources = {**offline_resources, "strava_source": strava_source(strava)}
        for _ in range(2):  # a re-run of the day as well
            result = materialize_day(resources, "2026-03-02")
            assert result.success
            assert check_result(result).passed
    activities = stored_frame(storage_root, "strava_activities", "2026-03-02")
    assert list(activities["name"]) == ["Sunrise ride", "Évening loop 🌅"]
    assert len(stored_frame(storage_root, "activity_stories", "2026-03-02")) == 2


# -- the sensor and the schedule --------------------------------------------------------------


def sensor_tick(sensor, strava, resources, cursor, now):
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"strava_source": strava_source(strava), "object_store": resources},
    )
    return sensor(context)


def test_the_sensor_requests_one_run_per_changed_day_and_none_on_an_unchanged_tick(local_store):
    now = {"t": (DAY + timedelta(hours=12)).timestamp()}
    sensor = build_strava_activities_sensor(dg.DefaultSensorStatus.RUNNING, lambda: now["t"])
    yesterday = [activity(1, DAY - timedelta(hours=3))]
    today = [activity(2, DAY + timedelta(hours=7)), activity(3, DAY + timedelta(hours=9))]
    with StravaDouble([*yesterday, *today]) as strava:
        first = sensor_tick(sensor, strava, local_store, None, now["t"])
        assert sorted(r.partition_key for r in first.run_requests) == ["2026-03-01", "2026-03-02"]
        keys = {r.run_key for r in first.run_requests}

        now["t"] += 600
        unchanged = sensor_tick(sensor, strava, local_store, first.cursor, now["t"])
        assert unchanged.run_requests == []
        assert "no strava activity started after" in unchanged.skip_reason.skip_message
        assert unchanged.cursor == first.cursor

        strava.activities.append(activity(4, DAY + timedelta(hours=12, minutes=5)))
        now["t"] += 600
        changed = sensor_tick(sensor, strava, local_store, unchanged.cursor, now["t"])
        (request,) = changed.run_requests
        assert request.partition_key == "2026-03-02"
        assert request.run_key not in keys
        assert request.tags["glimpse/new_activities"] == "1"
        assert int(changed.cursor) > int(first.cursor)


def test_the_sensor_is_off_for_the_sample_and_on_for_strava():
    from glimpse_assets.domains import build_domain
    from glimpse_assets.stories.definitions import build_defs

    def status(env):
        defs = build_domain(build_defs, env)
        sensor = defs.resolve_sensor_def("strava_activities_sensor")
        return sensor.default_status

    assert status({}) == dg.DefaultSensorStatus.STOPPED
    assert status({"GLIMPSE_STRAVA_SOURCE": "strava"}) == dg.DefaultSensorStatus.RUNNING


def test_the_morning_schedule_runs_the_day_before():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 3, 7, 0, tzinfo=UTC)
    )
    request = stories_daily_schedule(context)
    assert request.partition_key == "2026-03-02"
    assert request.run_key == "daily:2026-03-02"


def test_an_empty_day_stores_empty_typed_tables(offline_resources, storage_root, fake):
    with StravaDouble([]) as strava:
        result = dg.materialize(
            [*stories_assets, *stories_checks],
            partition_key="2026-03-02",
            resources={
                **offline_resources,
                "strava_source": strava_source(strava),
                "text_provider": openai_provider(fake, offline_resources),
            },
        )
    assert result.success and check_result(result).passed
    assert fake.count(CHAT) == 0
    stories = stored_frame(storage_root, "activity_stories", "2026-03-02")
    assert stories.empty and list(stories.columns)[:3] == ["activity_id", "title", "story"]
    assert len(activities_frame([])) == 0


@pytest.mark.parametrize("asset", [strava_activities, activity_stories])
def test_the_assets_are_daily_to_today_in_the_stories_group(asset):
    assert asset.partitions_def.get_partition_keys()[-1] == datetime.now(UTC).date().isoformat()
    assert asset.group_names_by_key[asset.key] == "stories"


def test_a_range_run_stores_what_day_by_day_runs_store(offline_resources, storage_root, tmp_path):
    from glimpse_assets_tests.support.stores import io_manager_at

    range_result = dg.materialize(
        [*stories_assets, *stories_checks],
        resources={"strava_source": SampleActivitySource(), **offline_resources},
        tags={
            "dagster/asset_partition_range_start": DAYS[0],
            "dagster/asset_partition_range_end": DAYS[-1],
        },
    )
    assert range_result.success
    per_day_root = tmp_path / "per_day"
    per_day = io_manager_at(str(per_day_root))
    day_resources = {
        **offline_resources,
        "io_manager": per_day,
        "object_store": per_day.object_store,
    }
    for day in DAYS:
        assert materialize_day(day_resources, day).success
    for day in DAYS:
        for asset in ("strava_activities", "activity_stories"):
            assert stored(storage_root, asset, day) == stored(per_day_root, asset, day)
    evaluations = range_result.get_asset_check_evaluations()
    assert {e.partition for e in evaluations if e.partition} == set(DAYS)  # one result a day
    assert all(e.passed for e in evaluations)
