"""dagster-openai: `OpenAIResource` is the resource configured for the OpenAI-compatible server.

The code location's resources are built from the settings as Dagster builds them
(`resources.shared_resources`); the news chain then runs in process against `FakeOpenAI` on
127.0.0.1 through the real SDK. Tests assert on what reached the server (the key, organisation
and project headers, request counts) and on the materialisation's metadata: the usage under the
keys dagster-openai's `with_usage_metadata` writes, beside Glimpse's own.
"""

from __future__ import annotations

import os

import dagster as dg
import pytest
from dagster_openai import OpenAIResource

from glimpse_assets.llm.gateway import CallStats
from glimpse_assets.news.assets import image_prompt, news_digest, raw_news
from glimpse_assets.news.sources import SampleNewsSource
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.resources import shared_resources
from glimpse_assets_tests.support.fake_openai import CHAT

DAY = "2026-03-02"
API_KEY = "sk-test-dagster-openai-0000"
ORGANIZATION = "org-glimpse-test"
PROJECT = "proj_glimpse_test"
TEXT_MODEL = "test-text-model"
UP_TO_PROMPT = [raw_news, news_digest, image_prompt]


@pytest.fixture
def openai_env(fake, tmp_path, monkeypatch) -> os._Environ:
    """The process environment of a code location configured for `fake` (the conftest's
    FakeOpenAI), as a user sets it."""
    for name in list(os.environ):
        if name.startswith(("GLIMPSE_", "OPENAI_")):
            monkeypatch.delenv(name)
    for name, value in {
        "GLIMPSE_STORAGE_URI": str(tmp_path / "storage"),
        "GLIMPSE_PROVIDER": "openai",
        "GLIMPSE_TEXT_MODEL": TEXT_MODEL,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_ORGANIZATION": ORGANIZATION,
        "OPENAI_PROJECT": PROJECT,
    }.items():
        monkeypatch.setenv(name, value)
    return os.environ


def materialise(resources: dict) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        UP_TO_PROMPT,
        partition_key=DAY,
        resources={**resources, "news_source": SampleNewsSource()},
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def test_the_configured_openai_resource_is_dagster_openais_with_the_settings(openai_env):
    resources = shared_resources(openai_env).resources

    openai = resources["openai"]
    assert isinstance(openai, OpenAIResource)
    assert (openai.base_url, openai.organization, openai.project) == (
        openai_env["OPENAI_BASE_URL"],
        ORGANIZATION,
        PROJECT,
    )
    assert isinstance(openai.api_key, dg.EnvVar)  # the key itself is read when a run starts
    assert openai.api_key.env_var_name == "OPENAI_API_KEY"
    # The providers use that same resource.
    assert resources["text_provider"].openai is openai
    assert resources["image_provider"].openai is openai


def test_key_organisation_and_project_reach_the_server_and_usage_is_in_dagster_openai_keys(
    fake, openai_env
):
    result = materialise(shared_resources(openai_env).resources)

    assert result.success
    chats = fake.requests(CHAT)
    assert len(chats) == 1
    headers = chats[0].headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["openai-organization"] == ORGANIZATION
    assert headers["openai-project"] == PROJECT
    (exchange,) = fake.answered(CHAT)
    metadata = metadata_of(result, "image_prompt")
    prefix = f"openai.{TEXT_MODEL}"  # the model the server answered with, as dagster-openai keys it
    assert {key: value for key, value in metadata.items() if key.startswith("openai.")} == {
        f"{prefix}.calls": 1,
        f"{prefix}.total_tokens": exchange.usage["total_tokens"],
        f"{prefix}.prompt_tokens": exchange.usage["prompt_tokens"],
        f"{prefix}.completion_tokens": exchange.usage["completion_tokens"],
    }
    # Beside Glimpse's own usage metadata, which says the same.
    assert metadata["llm_requests"] == 1
    assert metadata["usage_total_tokens"] == exchange.usage["total_tokens"]
    # The key is in no metadata value.
    assert not [key for key, value in metadata.items() if API_KEY in str(value)]


def test_a_cached_answer_is_no_call_in_the_dagster_openai_keys(fake, openai_env):
    resources = shared_resources(openai_env).resources
    assert materialise(resources).success

    again = materialise(resources)

    assert again.success
    assert len(fake.requests(CHAT)) == 1  # the second run was answered from the cache
    metadata = metadata_of(again, "image_prompt")
    assert (metadata["cache_hits"], metadata["llm_requests"]) == (1, 0)
    assert not [key for key in metadata if key.startswith("openai.")]


def test_outside_a_run_the_client_reads_the_key_and_keeps_organisation_and_project(
    fake, monkeypatch
):
    """The service answers an SMS outside any run: no `setup_for_execution`, the `dg.EnvVar`
    unresolved. `get_client()` reads the key then; `with_api_key` keeps the other settings."""
    monkeypatch.setenv("GLIMPSE_TEST_OPENAI_KEY", "sk-read-outside-a-run")
    resource = OpenAIClient(
        api_key=dg.EnvVar("GLIMPSE_TEST_OPENAI_KEY"),
        base_url=fake.base_url,
        organization=ORGANIZATION,
        project=PROJECT,
    )
    for each in (resource, resource.with_api_key("sk-given-outright")):
        with each.get_client() as client:
            client.chat.completions.create(
                model=TEXT_MODEL, messages=[{"role": "user", "content": "Hello"}]
            )

    sent = [request.headers for request in fake.requests(CHAT)]
    assert [headers["authorization"] for headers in sent] == [
        "Bearer sk-read-outside-a-run",
        "Bearer sk-given-outright",
    ]
    assert {headers["openai-organization"] for headers in sent} == {ORGANIZATION}
    assert {headers["openai-project"] for headers in sent} == {PROJECT}


def test_call_stats_key_usage_by_the_model_the_server_named_as_dagster_openai_does():
    stats = CallStats()
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    stats.count_answer("gpt-4o-mini", {"model": "gpt-4o-mini-2024-07-18", "usage": usage})
    stats.count_answer("gpt-4o-mini", {"model": "gpt-4o-mini-2024-07-18", "usage": usage})
    stats.count_answer("omni-moderation-latest", {"results": []})  # no model, no usage
    stats.count_answer("gpt-image-1", {"usage": {"input_tokens": 5, "total_tokens": 9}})

    assert stats.openai_metadata() == {
        "openai.gpt-4o-mini-2024-07-18.calls": 2,
        "openai.gpt-4o-mini-2024-07-18.total_tokens": 36,
        "openai.gpt-4o-mini-2024-07-18.prompt_tokens": 22,
        "openai.gpt-4o-mini-2024-07-18.completion_tokens": 14,
        "openai.gpt-image-1.calls": 1,
        "openai.gpt-image-1.total_tokens": 9,
        "openai.omni-moderation-latest.calls": 1,
    }
