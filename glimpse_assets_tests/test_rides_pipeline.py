"""The rides chain end to end: raw_rides -> clustered_rides -> anomaly_summaries -> rides_report
-> rides_report_page, with its two checks, on local storage, on S3 (moto and SeaweedFS on
127.0.0.1) and with the OpenAI-compatible text provider talking to a local fake of the Chat
Completions API.

raw_rides reads the day's raw_news headlines, so every run materialises raw_news too.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.news.assets import news_assets, raw_news
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_provider import LLM_METHOD, OpenAITextProvider
from glimpse_assets.rides.assets import (
    anomaly_summaries,
    raw_rides,
    rides_assets,
    rides_report,
    rides_report_page,
)
from glimpse_assets.rides.checks import (
    clustered_rides_are_all_labelled,
    labels_check,
    rides_checks,
)
from glimpse_assets.rides.conditions import INVENTED_FROM, NEWS_IN_TURN_FROM
from glimpse_assets.rides.sources import SimulatedRidesSource
from glimpse_assets.rides.summary_text import OFFLINE_SUMMARY_METHOD
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply, Request
from glimpse_assets_tests.support.stores import io_manager_at

DAY = "2026-03-01"
NEXT_DAY = "2026-03-02"
RIDES = 2000
DEFAULT_CITY = "Port Aldermere"
CHAT_PATH = "/v1/chat/completions"

RIDES_OUTPUTS = {
    "raw_rides": "parquet",
    "clustered_rides": "parquet",
    "anomaly_summaries": "parquet",
    "rides_report": "parquet",
    "rides_report_page": "html",
}
NEWS_OUTPUTS = {
    "raw_news": "parquet",
    "news_digest": "json",
    "image_prompt": "json",
    "news_image": "png",
}
PARQUET_OUTPUTS = [name for name, ext in RIDES_OUTPUTS.items() if ext == "parquet"]
RIDE_COLUMNS = ["ride_id", "ride_dist", "ride_time", "ride_speed", "news", "weather", "traffic"]
CONTEXT = ["news", "weather", "traffic"]
SUMMARY_COLUMNS = [
    "ride_id",
    "cluster",
    "ride_dist",
    "ride_time",
    "summary",
    "provider",
    "model",
    "method",
    "news",
    "weather",
    "traffic",
    "facts",
]
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")


# -- helpers -------------------------------------------------------------------------------


def materialize_day(
    resources: dict,
    day: str,
    rides_per_day: int = RIDES,
    **kwargs,
) -> dg.ExecuteInProcessResult:
    """The news and rides chains with the rides checks, for one day, on simulated rides."""
    return dg.materialize(
        [*news_assets, *rides_assets, *rides_checks],
        partition_key=day,
        resources={**resources, "rides_source": SimulatedRidesSource(rides_per_day=rides_per_day)},
        raise_on_error=False,
        **kwargs,
    )


def stored(root: Path, name: str, day: str) -> Path:
    return root / name / f"{day}.{RIDES_OUTPUTS.get(name) or NEWS_OUTPUTS[name]}"


def read_frame(root: Path, name: str, day: str) -> pd.DataFrame:
    return pd.read_parquet(stored(root, name, day))


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def materialized_assets(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(text))


def figures_row(label: str, value: str) -> str:
    return f"<tr><th>{label}</th><td>{value}</td></tr>"


def history_row(day: str, rides: int, anomalies: int) -> str:
    cells = [day, f"{rides:,}", f"{anomalies:,}", f"{anomalies / rides:.2%}"]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


@pytest.fixture
def storage_root(local_io_manager) -> Path:
    return Path(local_io_manager.object_store.storage_uri)


# -- local storage end to end --------------------------------------------------------------


def test_a_day_stores_rides_labels_summaries_report_and_page_readable_without_dagster(
    offline_resources, storage_root
):
    result = materialize_day(offline_resources, DAY)
    assert result.success
    for name in RIDES_OUTPUTS:
        assert stored(storage_root, name, DAY).is_file(), f"{name} was not stored"

    news = read_frame(storage_root, "raw_news", DAY)
    rides = read_frame(storage_root, "raw_rides", DAY)
    assert set(RIDE_COLUMNS) <= set(rides.columns)
    assert len(rides) == RIDES and rides["ride_id"].is_unique
    # Each 3-hour block of the day carries the next headline of the day, in publication order.
    titles = news.sort_values(["published", "id"])["title"].tolist()
    block = rides["pickup_at"].dt.hour // 3
    expected_news = [titles[b % len(titles)] for b in block]
    assert rides["news"].astype(str).tolist() == expected_news
    assert set(rides["news"].astype(str)) <= set(news["title"])
    # Simulated rides: their weather and traffic are invented, and each ride says so.
    assert set(rides["news_from"].astype(str)) == {NEWS_IN_TURN_FROM}
    assert set(rides["weather_from"].astype(str)) == {INVENTED_FROM}
    assert set(rides["traffic_from"].astype(str)) == {INVENTED_FROM}

    clustered = read_frame(storage_root, "clustered_rides", DAY)
    assert clustered["ride_id"].tolist() == rides["ride_id"].tolist()
    assert clustered["cluster"].notna().all() and clustered["is_anomaly"].notna().all()
    assert (clustered["is_anomaly"] == (clustered["cluster"] == -1)).all()
    anomalous = clustered[clustered["is_anomaly"]]
    assert 0 < len(anomalous) < len(clustered)

    summaries = read_frame(storage_root, "anomaly_summaries", DAY)
    assert summaries.columns.tolist() == SUMMARY_COLUMNS
    assert sorted(summaries["ride_id"]) == sorted(anomalous["ride_id"])
    assert (summaries["cluster"] == -1).all()
    assert (summaries["provider"] == "offline").all()
    assert (summaries["method"] == OFFLINE_SUMMARY_METHOD).all()
    assert summaries["summary"].map(lambda s: 1 <= sentences(s) <= 3).all()
    assert not summaries["summary"].str.contains("\n").any()
    # Each summary begins with the facts it was given: when, where and how many stood out.
    for row in summaries.drop_duplicates("summary").itertuples(index=False):
        assert row.summary.startswith(row.facts), row
        assert (
            f" in {DEFAULT_CITY}, " in row.facts and f" of the day's {RIDES:,} rides" in row.facts
        )

    report = read_frame(storage_root, "rides_report", DAY)
    assert sorted(report["ride_id"]) == sorted(clustered["ride_id"])
    assert report.loc[~report["is_anomaly"], "summary"].isna().all()
    by_ride = summaries.set_index("ride_id")["summary"]
    on_anomalies = report[report["is_anomaly"]].set_index("ride_id")["summary"]
    assert on_anomalies.notna().all()
    assert on_anomalies.sort_index().equals(by_ride.sort_index())

    page = stored(storage_root, "rides_report_page", DAY).read_text("utf-8")
    assert f"Rides report for {DAY}, {DEFAULT_CITY}" in page
    assert figures_row("rides", f"{RIDES:,}") in page
    assert figures_row("anomalous rides", f"{len(anomalous):,}") in page
    assert figures_row("anomaly rate", f"{len(anomalous) / RIDES:.2%}") in page
    assert "data:image/png;base64," in page

    checks = checks_of(result)
    assert {name: check.passed for name, check in checks.items()} == {
        "clustered_rides_are_all_labelled": True,
        "anomaly_rate_is_within_band": True,
    }
    clustered_metadata = metadata_of(result, "clustered_rides")
    assert clustered_metadata["rows"] == RIDES
    assert clustered_metadata["anomalies"] == len(anomalous)
    summary_metadata = metadata_of(result, "anomaly_summaries")
    contexts = len(anomalous[CONTEXT].drop_duplicates())
    assert summary_metadata["anomalies"] == len(anomalous)
    assert summary_metadata["contexts"] == contexts > 0
    assert summary_metadata["provider_calls"] == 0  # the offline provider makes no request


@pytest.mark.slow
def test_rerunning_a_day_is_byte_identical_and_another_day_differs(offline_resources, storage_root):
    assert materialize_day(offline_resources, DAY).success
    first = {name: stored(storage_root, name, DAY).read_bytes() for name in PARQUET_OUTPUTS}

    assert materialize_day(offline_resources, DAY).success
    again = {name: stored(storage_root, name, DAY).read_bytes() for name in PARQUET_OUTPUTS}
    assert again == first

    assert materialize_day(offline_resources, NEXT_DAY).success
    for name in PARQUET_OUTPUTS:
        other = stored(storage_root, name, NEXT_DAY).read_bytes()
        assert other != first[name], f"{name} is the same on two different days"


# -- history across days -------------------------------------------------------------------


@pytest.mark.slow
def test_third_day_page_compares_with_the_two_previous_days_rates(offline_resources, storage_root):
    days = ["2026-03-01", "2026-03-02", "2026-03-03"]
    instance = dg.DagsterInstance.ephemeral()
    results = [materialize_day(offline_resources, day, instance=instance) for day in days]
    assert all(result.success for result in results)

    assert [metadata_of(r, "rides_report_page")["days_compared"] for r in results] == [0, 1, 2]

    counts = {}
    for day in days:
        clustered = read_frame(storage_root, "clustered_rides", day)
        counts[day] = (len(clustered), int(clustered["is_anomaly"].sum()))
    page = stored(storage_root, "rides_report_page", days[2]).read_text("utf-8")
    rows = [history_row(day, *counts[day]) for day in days]
    assert all(row in page for row in rows)
    assert page.index(rows[0]) < page.index(rows[1]) < page.index(rows[2])
    mean = sum(a / r for r, a in (counts[days[0]], counts[days[1]])) / 2
    assert f"the mean of the previous 2 day(s), {mean:.2%}" in page
    assert metadata_of(results[2], "rides_report_page")["anomaly_rate"] == pytest.approx(
        counts[days[2]][1] / counts[days[2]][0]
    )


# -- the offline summaries say what the conditions alone do not ---------------------------


def typical_rides(count: int, start: str = "2026-03-01 09:00") -> pd.DataFrame:
    """`count` rides of 5 km at 30 km/h (10 minutes), a minute apart from `start`."""
    return pd.DataFrame(
        {
            "ride_id": [f"t{n}" for n in range(count)],
            "pickup_at": pd.date_range(start, periods=count, freq="min", tz="UTC"),
            "ride_dist": [4.0 + (n % 21) / 10 for n in range(count)],  # 4.0 .. 6.0 km
            "ride_time": [10.0] * count,
        }
    )


def test_ride_facts_say_how_the_rides_stood_out_against_the_days_typical_ride():
    from glimpse_assets.rides.summaries import ride_facts, typical_ride
    from glimpse_assets.rides.summary_text import Unusual, fact_sentences

    odd = pd.DataFrame(
        {
            "ride_id": ["long1", "long2", "slow1"],
            "pickup_at": pd.to_datetime(
                ["2026-03-01 16:10", "2026-03-01 17:50", "2026-03-01 19:00"], utc=True
            ),
            "ride_dist": [24.0, 26.0, 5.0],  # two long rides at 30 km/h; one of 5 km at 6 km/h
            "ride_time": [48.0, 52.0, 50.0],
        }
    )
    day = pd.concat([typical_rides(400), odd], ignore_index=True)

    facts = ride_facts(odd, typical_ride(day), len(day))

    assert facts.blocks == ("15:00-18:00", "18:00-21:00")
    assert (facts.rides, facts.day_rides) == (3, 403)
    assert facts.unusual == (
        Unusual("long", 2, 25.0, 5.0, "km"),
        Unusual("slow", 1, 6.0, 30.0, "km/h"),
    )
    assert fact_sentences(facts, "Port Aldermere") == [
        "Between 15:00 and 18:00 and between 18:00 and 21:00 in Port Aldermere, 3 of the day's "
        "403 rides stood out.",
        "2 were long (median 25.0 km against the day's 5.0 km) and 1 slow (6 km/h against the "
        "day's median 30 km/h).",
    ]


@pytest.mark.parametrize("day", ["2026-03-01", "2026-03-04", "2026-06-21", "2026-12-24"])
def test_an_offline_summary_names_its_block_and_count_and_is_not_the_conditions(day):
    from datetime import date

    from glimpse_assets.providers.offline_text import OfflineTextProvider
    from glimpse_assets.rides.clustering import cluster_rides
    from glimpse_assets.rides.conditions import (
        attach_conditions,
        block_conditions,
        conditions_pool,
    )
    from glimpse_assets.rides.simulate import simulate_rides
    from glimpse_assets.rides.summaries import summarise_anomalies

    the_day = date.fromisoformat(day)
    headlines = pd.DataFrame(
        {
            "id": ["h1", "h2", "h3"],
            "title": ["Harbour festival opens", "Bridge shut for repairs", "Tram line extended"],
            "published": pd.to_datetime([f"{day} 0{h}:00" for h in (1, 5, 9)], utc=True),
        }
    )
    blocks = block_conditions(the_day, headlines, news_by_publication_time=False)
    rides = attach_conditions(simulate_rides(the_day, 4_000), blocks)
    clustered, _ = cluster_rides(rides)
    summaries, counts = summarise_anomalies(None, clustered, OfflineTextProvider(), "Kestrel Bay")

    anomalies = clustered[clustered["is_anomaly"]].set_index("ride_id")
    assert counts["contexts"] > 1
    weathers = conditions_pool()["weather"]
    said, one_block = set(), 0
    for summary, rows in summaries.groupby("summary"):
        ridden = anomalies.loc[rows["ride_id"]]
        hours = sorted(set(ridden["pickup_at"].dt.hour // 3 * 3))
        (news, weather, traffic), *others = ridden[CONTEXT].astype(str).drop_duplicates().values
        assert not others  # one summary per distinct context
        if len(hours) == 1:  # which block, where, how many of the day's rides
            when = f"Between {hours[0]:02d}:00 and {hours[0] + 3:02d}:00"
            assert summary.startswith(f"{when} in Kestrel Bay, {len(rows)} of the day's 4,000")
            one_block += 1
        else:
            assert summary.startswith(("Between ", "In ")) and " in Kestrel Bay, " in summary
        assert "stood out" in summary and "against the day's" in summary  # what is unusual
        quoted = [text for text in (news, weather, traffic) if text.rstrip(".") in summary]
        assert len(quoted) <= 1, summary  # at most one condition, and never all three
        assert summary != f"{news} {weather} {traffic}"
        said |= {w for w in weathers if w.rstrip(".") in summary}
    assert one_block > 0
    # One weather for the whole day, in the rides and in whatever the summaries say of it.
    assert clustered["weather"].astype(str).nunique() == 1
    assert len(said) <= 1


# -- run config ----------------------------------------------------------------------------


def test_run_config_rides_per_day_overrides_the_source_count(offline_resources, storage_root):
    result = materialize_day(
        offline_resources,
        DAY,
        run_config={"ops": {"raw_rides": {"config": {"rides_per_day": 500}}}},
    )
    assert result.success
    assert len(read_frame(storage_root, "raw_rides", DAY)) == 500
    assert len(read_frame(storage_root, "rides_report", DAY)) == 500
    assert metadata_of(result, "raw_rides")["rides"] == 500
    page = stored(storage_root, "rides_report_page", DAY).read_text("utf-8")
    assert figures_row("rides", "500") in page


# -- a day without rides -------------------------------------------------------------------


def test_a_day_without_rides_stores_empty_tables_and_warns(offline_resources, storage_root):
    result = materialize_day(offline_resources, DAY, rides_per_day=0)

    # The run succeeds: the only failing thing is the anomaly-rate check, a WARN.
    assert result.success, failure_text(result, "raw_rides")
    for name in ("raw_rides", "clustered_rides", "anomaly_summaries", "rides_report"):
        assert read_frame(storage_root, name, DAY).empty, f"{name} is not empty"
    assert read_frame(storage_root, "anomaly_summaries", DAY).columns.tolist() == SUMMARY_COLUMNS
    # An empty day keeps the schema of a full one, so files of many days read together.
    for name in ("anomaly_summaries", "rides_report"):
        summary = read_frame(storage_root, name, DAY)["summary"]
        assert summary.dtype == "string", name
    page = stored(storage_root, "rides_report_page", DAY).read_text("utf-8")
    assert f"No rides for {DAY}" in page
    assert metadata_of(result, "raw_rides")["note"] == "no rides for this day"
    assert metadata_of(result, "raw_rides")["rides"] == 0
    assert metadata_of(result, "anomaly_summaries")["provider_calls"] == 0
    # No rides, no rate: left out rather than reported as 0.0.
    clustered_metadata = metadata_of(result, "clustered_rides")
    assert clustered_metadata["rows"] == 0
    assert "anomaly_rate" not in clustered_metadata
    assert "anomaly_rate" not in metadata_of(result, "rides_report_page")

    checks = checks_of(result)
    band = checks["anomaly_rate_is_within_band"]
    assert not band.passed
    assert band.severity == dg.AssetCheckSeverity.WARN
    assert band.description == f"no rides on {DAY}"
    assert "anomaly_rate" not in band.metadata
    assert checks["clustered_rides_are_all_labelled"].passed
    assert [name for name, check in checks.items() if not check.passed] == [
        "anomaly_rate_is_within_band"
    ]


# -- S3 ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_rides_chain_on_s3_stores_every_output_under_the_prefix(
    offline_resources, s3_client, s3_bucket
):
    io_manager = io_manager_at(f"s3://{s3_bucket}/g")
    resources = {
        **offline_resources,
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
    }
    result = materialize_day(resources, DAY)
    assert result.success

    keys = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    outputs = {**NEWS_OUTPUTS, **RIDES_OUTPUTS}
    assert keys == sorted(f"g/{name}/{DAY}.{ext}" for name, ext in outputs.items())

    def read(name: str) -> bytes:
        key = f"g/{name}/{DAY}.{outputs[name]}"
        return s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()

    clustered = pd.read_parquet(io.BytesIO(read("clustered_rides")))
    summaries = pd.read_parquet(io.BytesIO(read("anomaly_summaries")))
    report = pd.read_parquet(io.BytesIO(read("rides_report")))
    assert len(pd.read_parquet(io.BytesIO(read("raw_rides")))) == RIDES
    assert len(clustered) == len(report) == RIDES
    assert sorted(summaries["ride_id"]) == sorted(clustered.loc[clustered["is_anomaly"], "ride_id"])
    page = read("rides_report_page").decode("utf-8")
    assert figures_row("anomalous rides", f"{int(clustered['is_anomaly'].sum()):,}") in page
    head = s3_client.head_object(Bucket=s3_bucket, Key=f"g/rides_report_page/{DAY}.html")
    assert head["ContentType"].startswith("text/html")
    uri = metadata_of(result, "rides_report")["uri"]
    assert uri == f"s3://{s3_bucket}/g/rides_report/{DAY}.parquet"


# -- the OpenAI-compatible provider: one call per distinct context -------------------------


class FakeChatServer:
    """Answers Chat Completions with two sentences derived from the user message, and counts
    how many requests are being handled at the same moment."""

    DELAY_SECONDS = 0.05  # only so that calls sent concurrently overlap at the server

    def __init__(self, error: tuple[int, str] | None = None) -> None:
        self.error = error
        self.answers: dict[str, str] = {}  # user message -> answer served
        self.total_tokens_served = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    @staticmethod
    def answer_for(user_message: str) -> str:
        tag = hashlib.sha256(user_message.encode("utf-8")).hexdigest()[:12]
        return f"Context {tag} slowed some journeys. Drivers took longer routes around it."

    def __call__(self, request: Request) -> Reply:
        if request.path != CHAT_PATH:
            return Reply.json({"error": {"message": f"no route {request.path}"}}, status=404)
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.DELAY_SECONDS)
            if self.error:
                status, message = self.error
                return Reply.json(
                    {"error": {"message": message, "type": "invalid_request_error"}},
                    status=status,
                )
            body = request.json()
            user = next(m["content"] for m in body["messages"] if m["role"] == "user")
            answer = self.answer_for(user)
            prompt_tokens = len(user.split())
            completion_tokens = len(answer.split())
            with self._lock:
                self.answers[user] = answer
                self.total_tokens_served += prompt_tokens + completion_tokens
            return Reply.json(
                {
                    "id": f"chatcmpl-{len(self.answers)}",
                    "object": "chat.completion",
                    "created": 1_772_409_600,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                }
            )
        finally:
            with self._lock:
                self.in_flight -= 1


def materialize_with_openai(
    offline_resources: dict, server: LocalHTTPServer, city: str, run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    """raw_news and the rides chain (no image_prompt/news_image) with the OpenAI text
    provider pointed at the local server."""
    text_provider = OpenAITextProvider(
        openai=OpenAIClient(api_key="sk-test", base_url=server.url + "/v1"),
        calls=LLMCalls(object_store=offline_resources["object_store"], max_concurrency=3),
        model="m",
    )
    return dg.materialize(
        [raw_news, *rides_assets, *rides_checks],
        partition_key=DAY,
        resources={
            **offline_resources,
            "text_provider": text_provider,
            "rides_source": SimulatedRidesSource(rides_per_day=RIDES, city=city),
        },
        run_config=run_config,
        raise_on_error=False,
    )


@pytest.mark.slow
def test_summaries_are_cached_and_force_in_run_config_asks_again(offline_resources):
    fake = FakeChatServer()
    force = {"ops": {"anomaly_summaries": {"config": {"force": True}}}}
    with LocalHTTPServer(fake) as server:
        first = materialize_with_openai(offline_resources, server, "Kestrel Bay")
        after_first = len(server.requests)
        second = materialize_with_openai(offline_resources, server, "Kestrel Bay")
        after_second = len(server.requests)
        forced = materialize_with_openai(offline_resources, server, "Kestrel Bay", force)

    assert first.success and second.success and forced.success
    contexts = metadata_of(first, "anomaly_summaries")["contexts"]
    assert after_first == contexts > 0
    assert after_second == after_first  # every summary came from the cache
    assert len(server.requests) == after_first + contexts  # force called for each context again
    # provider_calls counts the requests made, not the contexts summarised.
    calls = [metadata_of(r, "anomaly_summaries")["provider_calls"] for r in (first, second, forced)]
    assert calls == [contexts, 0, contexts]
    assert metadata_of(second, "anomaly_summaries")["contexts"] == contexts


def test_one_chat_call_per_distinct_context_at_most_three_in_flight(
    offline_resources, storage_root
):
    city = "Kestrel Bay"
    fake = FakeChatServer()
    with LocalHTTPServer(fake) as server:
        result = materialize_with_openai(offline_resources, server, city)
    assert result.success
    assert materialized_assets(result) == {"raw_news", *RIDES_OUTPUTS}

    clustered = read_frame(storage_root, "clustered_rides", DAY)
    anomalous = clustered[clustered["is_anomaly"]]
    contexts = anomalous[CONTEXT].astype(str).drop_duplicates()
    chats = [r for r in server.requests if r.path == CHAT_PATH]
    assert len(server.requests) == len(chats) == len(contexts)
    assert len(chats) < len(anomalous)

    users = []
    for chat in chats:
        assert chat.headers["authorization"] == "Bearer sk-test"
        body = chat.json()
        assert body["model"] == "m"
        (user,) = [m["content"] for m in body["messages"] if m["role"] == "user"]
        assert "<conditions>" in user and "</conditions>" in user and city in user
        users.append(user)
    # Each distinct context went out in exactly one request.
    for news, weather, traffic in contexts.itertuples(index=False):
        fenced = f"<conditions>\nNews: {news}\nWeather: {weather}\nTraffic: {traffic}\n"
        assert sum(fenced in user for user in users) == 1, (news, weather, traffic)

    summaries = read_frame(storage_root, "anomaly_summaries", DAY)
    assert sorted(summaries["ride_id"]) == sorted(anomalous["ride_id"])
    assert (summaries["provider"] == "openai").all() and (summaries["model"] == "m").all()
    assert (summaries["method"] == LLM_METHOD).all()
    context_of = anomalous.set_index("ride_id")[CONTEXT].astype(str)
    for row in summaries.itertuples(index=False):
        news, weather, traffic = context_of.loc[row.ride_id]
        fenced = f"News: {news}\nWeather: {weather}\nTraffic: {traffic}\n"
        (user,) = [user for user in users if fenced in user]
        assert row.summary == fake.answers[user] == FakeChatServer.answer_for(user)

    metadata = metadata_of(result, "anomaly_summaries")
    assert metadata["provider_calls"] == metadata["contexts"] == len(chats)
    assert metadata["anomalies"] == len(anomalous)
    assert metadata["usage_total_tokens"] == fake.total_tokens_served

    # Bounded concurrency, seen from the server: calls overlapped, never more than three.
    assert 2 <= fake.max_in_flight <= 3


def test_a_provider_error_fails_anomaly_summaries_with_the_server_message(
    offline_resources, storage_root
):
    message = "model 'm' is not served here"
    fake = FakeChatServer(error=(400, message))
    with LocalHTTPServer(fake) as server:
        result = materialize_with_openai(offline_resources, server, DEFAULT_CITY)

    assert not result.success
    text = failure_text(result, "anomaly_summaries")
    assert "HTTP 400" in text and message in text
    assert [e.step_key for e in result.get_step_failure_events()] == ["anomaly_summaries"]
    assert materialized_assets(result) == {"raw_news", "raw_rides", "clustered_rides"}
    assert stored(storage_root, "clustered_rides", DAY).is_file()
    for name in ("anomaly_summaries", "rides_report", "rides_report_page"):
        assert not (storage_root / name).exists(), f"{name} was stored"


# -- the blocking labels check -------------------------------------------------------------


@pytest.mark.slow
def test_labels_check_blocks_downstream_when_labels_and_raw_rides_disagree(
    offline_resources, storage_root
):
    assert materialize_day(offline_resources, DAY).success
    summaries_before = stored(storage_root, "anomaly_summaries", DAY).read_bytes()

    # raw_rides is refreshed with fewer rides, but clustered_rides is not re-labelled.
    refreshed = materialize_day(
        offline_resources,
        DAY,
        selection=[raw_rides],
        run_config={"ops": {"raw_rides": {"config": {"rides_per_day": 500}}}},
    )
    assert refreshed.success
    assert len(read_frame(storage_root, "raw_rides", DAY)) == 500

    result = materialize_day(
        offline_resources,
        DAY,
        selection=dg.AssetSelection.checks(clustered_rides_are_all_labelled)
        | dg.AssetSelection.assets(anomaly_summaries, rides_report, rides_report_page),
    )
    assert not result.success
    check = checks_of(result)["clustered_rides_are_all_labelled"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description == f"{RIDES} labelled rows for 500 raw rides"
    assert materialized_assets(result) == set()
    assert stored(storage_root, "anomaly_summaries", DAY).read_bytes() == summaries_before


def test_labels_check_reports_null_labels_and_a_missing_column():
    rides = pd.DataFrame({"ride_id": ["a", "b", "c"], "ride_dist": [1.0, 2.0, 3.0]})
    with_nulls = rides.assign(cluster=[0, None, -1], is_anomaly=[False, None, True])
    result = labels_check("2026-03-01", clustered_rides=with_nulls, raw_rides=rides)
    assert not result.passed
    assert result.description == "1 null cluster labels; 1 null is_anomaly labels"

    unlabelled = rides.assign(cluster=[0, 0, -1])
    result = labels_check("2026-03-01", clustered_rides=unlabelled, raw_rides=rides.head(2))
    assert not result.passed
    assert result.description == "no is_anomaly column; 3 labelled rows for 2 raw rides"

    labelled = rides.assign(cluster=[0, 0, -1], is_anomaly=[False, False, True])
    result = labels_check("2026-03-01", clustered_rides=labelled, raw_rides=rides)
    assert result.passed and result.description == "3 rides, all labelled"


@pytest.mark.slow
def test_provider_calls_are_each_days_own_requests_in_a_range_run(offline_resources):
    days = [DAY, NEXT_DAY]

    def run_range(server: LocalHTTPServer) -> dg.ExecuteInProcessResult:
        provider = OpenAITextProvider(
            openai=OpenAIClient(api_key="sk-test", base_url=server.url + "/v1"),
            calls=LLMCalls(object_store=offline_resources["object_store"], max_concurrency=3),
            model="m",
        )
        return dg.materialize(
            [raw_news, *rides_assets],
            resources={
                **offline_resources,
                "text_provider": provider,
                "rides_source": SimulatedRidesSource(rides_per_day=RIDES),
            },
            tags={
                "dagster/asset_partition_range_start": days[0],
                "dagster/asset_partition_range_end": days[-1],
            },
            raise_on_error=False,
        )

    with LocalHTTPServer(FakeChatServer()) as server:
        first = run_range(server)
        sent_first = len(server.requests)
        again = run_range(server)
        sent_again = len(server.requests) - sent_first
    assert first.success and again.success

    def by_day(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
        return {
            m.partition: {k: getattr(v, "value", v) for k, v in m.metadata.items()}
            for m in result.asset_materializations_for_node("anomaly_summaries")
        }

    first_days, again_days = by_day(first), by_day(again)
    assert set(first_days) == set(again_days) == set(days)
    for day in days:
        assert first_days[day]["provider_calls"] == first_days[day]["contexts"] > 0
        assert first_days[day]["provider_calls"] == first_days[day]["llm_requests"]
        assert again_days[day]["provider_calls"] == 0  # all from the cache
    assert sent_first == sum(first_days[day]["provider_calls"] for day in days)
    assert sent_again == 0
