"""A flagged prompt is never drawn, in this run or a later one: the moderation verdict is kept on
the object store beside the prompt's text, and news_image itself refuses a prompt flagged now or
before (issue 11). The OpenAI providers talk to `FakeOpenAI` on 127.0.0.1."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.llm.guardrails import MODERATION_PREFIX, ModerationVerdicts, text_sha256
from glimpse_assets.news.assets import news_assets, news_image
from glimpse_assets.news.checks import news_checks
from glimpse_assets.news.moderation import image_prompt_passes_moderation
from glimpse_assets.news.sources import SampleNewsSource
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_provider import OpenAIImageProvider, OpenAITextProvider
from glimpse_assets_tests.support.fake_openai import IMAGES, MODERATIONS, FakeOpenAI, flagged

DAY = "2026-03-02"
API_KEY = "sk-test-moderation-0000"
NEWS_CHAIN = [*news_assets, *news_checks, image_prompt_passes_moderation]
RETRY_EVENTS = ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")


def openai_resources(fake: FakeOpenAI, io_manager) -> dict:
    client = OpenAIClient(api_key=API_KEY, base_url=fake.base_url)
    calls = LLMCalls(object_store=io_manager.object_store, max_retries=0, timeout_seconds=5.0)
    return {
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
        "llm": calls,
        "news_source": SampleNewsSource(),
        "text_provider": OpenAITextProvider(openai=client, calls=calls, model="test-text"),
        "image_provider": OpenAIImageProvider(openai=client, calls=calls, model="test-image"),
    }


def run(resources: dict, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        NEWS_CHAIN,
        selection=selection,
        partition_key=DAY,
        resources=resources,
        raise_on_error=False,
    )


def step_events(result: dg.ExecuteInProcessResult, step: str) -> Counter[str]:
    return Counter(event.event_type_value for event in result.all_events if event.step_key == step)


def stored_prompt(root: Path) -> str:
    return json.loads((root / "image_prompt" / f"{DAY}.json").read_text("utf-8"))["text"]


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_a_flagged_prompt_is_refused_by_a_later_run_of_news_image_alone(
    fake, local_io_manager, storage_root
):
    resources = openai_resources(fake, local_io_manager)
    fake.script(MODERATIONS, flagged("violence", "harassment"))
    first = run(resources)

    checks = {e.check_name: e for e in first.get_asset_check_evaluations()}
    assert not checks["image_prompt_passes_moderation"].passed
    assert "news_image" not in materialized(first)
    assert fake.count(IMAGES) == 0

    # Later, news_image alone for that day: no check runs, and nothing may be drawn.
    sent_before = fake.snapshot()
    later = run(resources, selection=[news_image])

    assert not later.success
    (failure,) = [e for e in later.get_step_failure_events() if e.step_key == "news_image"]
    error = failure.step_failure_data.error
    assert error.cls_name == "Failure"
    assert "flagged by moderation (harassment, violence" in error.message
    assert "never drawn" in error.message
    events = step_events(later, "news_image")
    assert (events["STEP_START"], events["STEP_FAILURE"]) == (1, 1)
    assert not any(events[name] for name in RETRY_EVENTS)
    assert fake.snapshot() == sent_before  # no images request, nor any other, reached the server
    assert fake.count(IMAGES) == 0
    assert not (storage_root / "news_image").exists()

    # The verdict is kept beside the prompt's text, on the shared object store.
    prompt = stored_prompt(storage_root)
    record = json.loads(
        (storage_root / MODERATION_PREFIX / f"{text_sha256(prompt)}.json").read_text("utf-8")
    )
    assert record["text"] == prompt and record["flagged"] is True
    assert record["categories"] == ["harassment", "violence"]
    assert [v["day"] for v in record["verdicts"]] == [DAY]


def test_a_flag_stands_when_a_later_verdict_passes_the_same_text(local_store):
    verdicts = ModerationVerdicts(local_store.records(MODERATION_PREFIX))
    text = "A calm harbour at dusk with paper lanterns drifting over the water."
    verdicts.add(text, flagged=True, categories=["violence"], model="mod-1", day=DAY)
    verdicts.add(text, flagged=False, categories=[], model="mod-2", day="2026-03-03")
    verdicts.add(text, flagged=False, categories=[], model="mod-2", day="2026-03-03")  # again

    with pytest.raises(dg.Failure) as raised:
        verdicts.refuse_if_flagged(text)

    assert "violence" in raised.value.description and DAY in raised.value.description
    assert raised.value.allow_retries is False
    record = local_store.records(MODERATION_PREFIX).get(text_sha256(text))
    assert len(record["verdicts"]) == 2  # the same verdict twice is recorded once
    verdicts.refuse_if_flagged(text + " Another text.")  # a different text was never flagged
