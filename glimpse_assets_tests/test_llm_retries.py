"""One retry budget per outside call: the openai SDK's, and nothing on top of it.

Each test materialises the real LLM assets, with their real retry policy, against `FakeOpenAI`
and counts the requests that reached it for one call that never succeeds: 1 + max_retries, in a
single step attempt. Dagster's step-retry delay is patched to zero (`no_retry_delay`) so that,
were the step retried, the extra requests would show at once rather than after a wait.
"""

from __future__ import annotations

import dagster as dg
import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.llm.budget import llm_asset_keys
from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.llm.policy import llm_retry_policy
from glimpse_assets.settings import ProviderSettings
from glimpse_assets_tests.support.failures import failure_classes, failure_text
from glimpse_assets_tests.support.fake_openai import (
    CHAT,
    IMAGES,
    MODERATIONS,
    rate_limited,
    server_error,
    slow,
)
from glimpse_assets_tests.support.llm import (
    RETRY_EVENTS,
    TIMEOUT_SECONDS,
    UP_TO_PROMPT,
    openai_resources,
    run,
    step_events,
)


@pytest.fixture
def no_retry_delay(monkeypatch):
    monkeypatch.setattr(
        "dagster._core.definitions.policy.calculate_delay", lambda **_: 0.0, raising=True
    )


def assert_one_attempt(result: dg.ExecuteInProcessResult, step: str = "image_prompt") -> None:
    events = step_events(result, step)
    assert (events["STEP_START"], events["STEP_FAILURE"]) == (1, 1)
    assert not any(events[name] for name in RETRY_EVENTS)


@pytest.mark.parametrize("max_retries", [0, 2])
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(server_error(500), id="500"),
        pytest.param(server_error(503, "Overloaded."), id="503"),
        pytest.param(rate_limited("0.05"), id="429"),
    ],
)
def test_a_call_that_always_fails_transiently_sends_one_plus_max_retries_requests(
    fake, local_io_manager, no_retry_delay, fault, max_retries
):
    fake.always(CHAT, fault)
    result = run(openai_resources(fake, local_io_manager, max_retries=max_retries), UP_TO_PROMPT)

    assert not result.success
    assert fake.snapshot() == {CHAT: 1 + max_retries, IMAGES: 0, MODERATIONS: 0}
    assert_one_attempt(result)
    classes = failure_classes(result, "image_prompt")
    message = failure_text(result, "image_prompt")
    assert classes[0] == "ProviderCallError"
    assert f"HTTP {fault.status}" in message and f"after {max_retries} retries" in message


def test_a_call_that_always_times_out_sends_one_plus_max_retries_requests(
    fake, local_io_manager, no_retry_delay
):
    fake.always(CHAT, slow(seconds=TIMEOUT_SECONDS * 2.5))
    result = run(openai_resources(fake, local_io_manager), UP_TO_PROMPT)  # max_retries=2

    assert not result.success
    assert fake.count(CHAT) == 3
    assert_one_attempt(result)
    classes = failure_classes(result, "image_prompt")
    message = failure_text(result, "image_prompt")
    assert classes[0] == "ProviderCallError" and "timed out" in message.lower()


def test_an_image_call_that_always_fails_sends_one_plus_max_retries_requests(
    fake, local_io_manager, no_retry_delay
):
    fake.always(IMAGES, server_error(502))
    result = run(openai_resources(fake, local_io_manager), [*UP_TO_PROMPT, *_news_image()])

    assert not result.success
    assert fake.snapshot() == {CHAT: 1, IMAGES: 3, MODERATIONS: 0}
    assert_one_attempt(result, "news_image")


def _news_image():
    from glimpse_assets.news.assets import news_image

    return [news_image]


def test_the_defaults_are_two_sdk_retries_and_no_step_retries():
    assert ProviderSettings.from_env({}).max_retries == 2
    assert LLMCalls.model_fields["max_retries"].default == 2
    assert llm_retry_policy() == dg.RetryPolicy(max_retries=0)

    env = {"GLIMPSE_PROVIDER": "openai", "OPENAI_API_KEY": "sk-x"}
    definitions = build_definitions(env)
    repository = definitions.get_repository_def()
    keys = llm_asset_keys(repository)
    assert {key.to_user_string() for key in keys} == {
        "image_prompt",
        "news_image",
        "anomaly_summaries",
        "article_embeddings",
        "activity_stories",
        "social_post",  # its caption
    }
    for key in keys:
        if key.to_user_string() == "social_post":  # retries a publish, never its caption call
            continue
        assert repository.assets_defs_by_key[key].op.retry_policy.max_retries == 0, key
    calls = definitions.resources["text_provider"].calls
    assert calls.max_retries == 2
