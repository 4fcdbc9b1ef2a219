"""The offline text provider shapes its output to pass the guardrails a model's answer must pass,
and an output error that still escapes fails the step once, with its reason (issue 11)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import dagster as dg
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glimpse_assets.llm.guardrails import reject_links_and_markup
from glimpse_assets.news import image_prompt
from glimpse_assets.news.assets import news_assets
from glimpse_assets.news.image_prompt import compose_image_prompt, shape_image_prompt
from glimpse_assets.news.sources import NewsBatch, NewsSource
from glimpse_assets.providers.base import ProviderOutputError
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.rides import summary_text
from glimpse_assets.rides.assets import anomaly_summaries, clustered_rides, raw_rides, rides_assets
from glimpse_assets.rides.conditions import NOT_KNOWN
from glimpse_assets.rides.sources import SimulatedRidesSource
from glimpse_assets.rides.summary_text import (
    SUMMARY_MAX_SENTENCES,
    SUMMARY_MAX_WORDS,
    RideConditions,
    RideFacts,
    Unusual,
    extractive_summary,
    fact_sentences,
    shape_summary,
    summary_request,
)

DAY = "2026-03-05"
RETRY_EVENTS = ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")
LINKED_HEADLINES = [
    "Harbour reopens after storm: details at https://news.example/harbour?ref=rss&token=abc",
    "Ferry timetable [see the map](https://maps.example/ferry) for www.ferries.example routes",
    "Night market <b>returns</b> to the quay, stalls < 40 > open late",
    "<a href='https://x.example'>Tram line</a> extended to the lighthouse",
]


class HeadlinesNewsSource(NewsSource):
    """A test double: the given headlines, published through the day."""

    titles_json: str = "[]"

    @property
    def kind(self) -> str:
        return "headlines"

    def fetch_day(self, day: date) -> NewsBatch:
        return NewsBatch(
            [
                {
                    "id": f"h{index}",
                    "title": title,
                    "description": f"{title}. More at https://news.example/h{index}.",
                    "url": f"https://news.example/h{index}",
                    "language": "en",
                    "category": ["general"],
                    "published": f"{day.isoformat()} {index * 5 + 1:02d}:00:00 +0000",
                }
                for index, title in enumerate(json.loads(self.titles_json))
            ]
        )


def assert_passes_the_summary_guardrails(summary: str) -> None:
    reject_links_and_markup(summary, "summary")
    assert shape_summary(summary) == summary
    assert len(summary.split()) <= SUMMARY_MAX_WORDS


# -- the shapes themselves -------------------------------------------------------------------


@pytest.mark.parametrize("headline", LINKED_HEADLINES)
def test_a_headline_with_a_url_or_markup_gives_a_valid_summary(headline):
    # Weather and traffic not known: the headline is the one condition the summary quotes.
    conditions = RideConditions("Port Aldermere", headline, NOT_KNOWN, NOT_KNOWN)
    (result,) = OfflineTextProvider().complete(None, [summary_request(conditions)])

    assert_passes_the_summary_guardrails(result.text)
    assert "example" not in result.text and "<" not in result.text
    assert result.text.startswith("News at the time: ")


# Words and the pieces of links and markup, joined in any order; and any text at all.
PIECES = ["a", "bc", " ", ".", "<", ">", "[", "]", "(", ")", "/", ":", "!", "…", "https://"]
TEXT = st.lists(st.sampled_from([*PIECES, "www.", "<b>", "](x)"]), max_size=60).map(
    "".join
) | st.text(max_size=200)


@settings(max_examples=150, deadline=None)
@given(TEXT, TEXT, TEXT)
def test_any_conditions_give_a_summary_that_passes_the_guardrails(news, weather, traffic):
    summary = extractive_summary(
        RideConditions("Port Aldermere", news, weather, traffic), SUMMARY_MAX_SENTENCES
    )
    assert_passes_the_summary_guardrails(summary)


@settings(max_examples=100, deadline=None)
@given(TEXT, TEXT, st.lists(st.tuples(TEXT, TEXT), max_size=3))
def test_any_digest_with_links_or_markup_gives_a_valid_prompt(title, description, related):
    digest = {
        "main": {"title": title, "description": description},
        "related": [{"title": t, "description": d} for t, d in related],
    }
    prompt = compose_image_prompt(digest)
    reject_links_and_markup(prompt, "image prompt")
    assert shape_image_prompt(prompt) == prompt


BLOCK_LABELS = [f"{h:02d}:00-{h + 3:02d}:00" for h in range(0, 24, 3)]
KINDS = ["long", "short", "fast", "slow", "other"]
FACTS = st.builds(
    RideFacts,
    blocks=st.lists(st.sampled_from(BLOCK_LABELS), min_size=0, max_size=8, unique=True).map(
        lambda blocks: tuple(sorted(blocks))
    ),
    rides=st.integers(1, 1_000_000),
    day_rides=st.integers(1, 10_000_000),
    unusual=st.lists(
        st.builds(
            Unusual,
            kind=st.sampled_from(KINDS),
            rides=st.integers(1, 100_000),
            median=st.none() | st.floats(0, 1e6, allow_nan=False),
            typical=st.none() | st.floats(0, 1e6, allow_nan=False),
            unit=st.sampled_from(["km", "km/h", ""]),
        ),
        max_size=5,
    ).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(TEXT, TEXT, TEXT, FACTS)
def test_any_conditions_and_facts_give_a_summary_that_passes_the_guardrails(
    news, weather, traffic, facts
):
    summary = extractive_summary(
        RideConditions("Port Aldermere", news, weather, traffic, facts), SUMMARY_MAX_SENTENCES
    )
    assert_passes_the_summary_guardrails(summary)
    assert summary.startswith(fact_sentences(facts, "Port Aldermere")[0])


def test_a_long_headline_is_cut_to_its_share_of_the_summary():
    conditions = RideConditions("Port Aldermere", "lantern " * 400, "Rain " * 200, "Slow.")
    assert_passes_the_summary_guardrails(extractive_summary(conditions, SUMMARY_MAX_SENTENCES))


# -- the rides chain -------------------------------------------------------------------------


def materialise_rides(offline_resources, titles: list[str]) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*news_assets, *rides_assets],
        selection=[news_assets[0], raw_rides, clustered_rides, anomaly_summaries],
        partition_key=DAY,
        resources={
            **offline_resources,
            "news_source": HeadlinesNewsSource(titles_json=json.dumps(titles)),
            "rides_source": SimulatedRidesSource(rides_per_day=2000),
        },
        raise_on_error=False,
    )


def step_events(result: dg.ExecuteInProcessResult, step: str) -> Counter[str]:
    return Counter(event.event_type_value for event in result.all_events if event.step_key == step)


def test_a_rides_day_whose_headlines_carry_urls_and_markup_is_summarised_offline(
    offline_resources, local_store
):
    result = materialise_rides(offline_resources, LINKED_HEADLINES)

    assert result.success
    events = step_events(result, "anomaly_summaries")
    assert (events["STEP_START"], events["STEP_SUCCESS"]) == (1, 1)
    assert not any(events[name] for name in RETRY_EVENTS)
    root = local_store.storage_uri
    rides = pd.read_parquet(f"{root}/raw_rides/{DAY}.parquet")
    assert rides["news"].astype(str).str.contains("https://").any()  # the URLs reached the rides
    summaries = pd.read_parquet(f"{root}/anomaly_summaries/{DAY}.parquet")
    assert len(summaries) > 0
    for summary in summaries["summary"].unique():
        assert_passes_the_summary_guardrails(summary)


def test_an_offline_summary_output_error_fails_the_step_once_with_its_reason(
    offline_resources, monkeypatch
):
    def rejected(conditions, max_sentences):
        raise ProviderOutputError("the summary contains a URL: 'forced for the test'")

    monkeypatch.setattr(summary_text, "extractive_summary", rejected)
    result = materialise_rides(offline_resources, ["Harbour reopens after the storm"])

    assert not result.success
    (failure,) = [e for e in result.get_step_failure_events() if e.step_key == "anomaly_summaries"]
    error = failure.step_failure_data.error
    assert error.cls_name == "Failure"
    assert "offline summary" in error.message
    assert "the summary contains a URL: 'forced for the test'" in error.message
    events = step_events(result, "anomaly_summaries")
    assert (events["STEP_START"], events["STEP_FAILURE"]) == (1, 1)
    assert not any(events[name] for name in RETRY_EVENTS)


def test_an_offline_image_prompt_output_error_fails_the_step_once_with_its_reason(
    offline_resources, monkeypatch
):
    def rejected(digest):
        raise ProviderOutputError("the image prompt has 3 words; at least 20 are needed")

    monkeypatch.setattr(image_prompt, "compose_image_prompt", rejected)
    result = dg.materialize(
        news_assets, partition_key=DAY, resources=offline_resources, raise_on_error=False
    )

    assert not result.success
    (failure,) = [e for e in result.get_step_failure_events() if e.step_key == "image_prompt"]
    error = failure.step_failure_data.error
    assert error.cls_name == "Failure"
    assert f"image prompt for {DAY}" in error.message
    assert "at least 20 are needed" in error.message
    events = step_events(result, "image_prompt")
    assert (events["STEP_START"], events["STEP_FAILURE"]) == (1, 1)
    assert not any(events[name] for name in RETRY_EVENTS)
