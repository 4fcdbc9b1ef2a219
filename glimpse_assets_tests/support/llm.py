"""The LLM tests' shared setup: the news and rides chains against `FakeOpenAI` through the real
`openai` SDK (`openai_resources`), run in process (`run`), and what a run recorded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import dagster as dg

from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.news.assets import image_prompt, news_assets, news_digest, raw_news
from glimpse_assets.news.checks import news_checks
from glimpse_assets.news.moderation import image_prompt_passes_moderation
from glimpse_assets.news.sources import NewsSource, SampleNewsSource
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_provider import OpenAIImageProvider, OpenAITextProvider
from glimpse_assets.rides.sources import SimulatedRidesSource
from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets_tests.support.fake_openai import CHAT, IMAGES, MODERATIONS, FakeOpenAI

DAY = "2026-03-02"
NEXT_DAY = "2026-03-03"
API_KEY = "sk-test-gateway-0000"
TEXT_MODEL = "test-text-model"
IMAGE_MODEL = "test-image-model"
TIMEOUT_SECONDS = 1.0
MAX_TOKENS = 400  # OpenAITextProvider's default: the worst case the budget guard assumes

NEWS_CHAIN = [*news_assets, *news_checks, image_prompt_passes_moderation]
UP_TO_PROMPT = [raw_news, news_digest, image_prompt]

NOTHING_SENT = {CHAT: 0, IMAGES: 0, MODERATIONS: 0}
RETRY_EVENTS = ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")


def openai_resources(
    fake: FakeOpenAI,
    io_manager: GlimpseIOManager,
    *,
    api_key: str = API_KEY,
    news_source: NewsSource | None = None,
    **calls_settings,
) -> dict:
    """Every resource the news and rides chains need, with the openai providers pointed at
    `fake` and the response cache on the IO manager's object store (the same instance, as the
    code location shares it), the gateway also under `llm` as in `glimpse_assets.resources`."""
    client = OpenAIClient(api_key=api_key, base_url=fake.base_url)
    calls = LLMCalls(
        object_store=io_manager.object_store,
        **{"max_retries": 2, "timeout_seconds": TIMEOUT_SECONDS, **calls_settings},
    )
    return {
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
        "llm": calls,
        "news_source": news_source or SampleNewsSource(),
        "rides_source": SimulatedRidesSource(rides_per_day=2000),
        "text_provider": OpenAITextProvider(openai=client, calls=calls, model=TEXT_MODEL),
        "image_provider": OpenAIImageProvider(openai=client, calls=calls, model=IMAGE_MODEL),
    }


def run(
    resources: dict, selection=tuple(NEWS_CHAIN), day: str = DAY, **kwargs
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        list(selection), partition_key=day, resources=resources, raise_on_error=False, **kwargs
    )


def step_events(result: dg.ExecuteInProcessResult, step: str) -> Counter[str]:
    return Counter(event.event_type_value for event in result.all_events if event.step_key == step)


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def check_of(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def check_metadata(result: dg.ExecuteInProcessResult, name: str) -> dict:
    metadata = check_of(result, name).metadata
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def cache_files(root: Path, endpoint: str | None = None) -> list[Path]:
    base = root / "_cache" / "openai" / (endpoint or "")
    return sorted(path for path in base.rglob("*.json") if path.is_file())


def write_prices(tmp_path: Path, chat: dict, images: dict | None = None) -> str:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"chat": chat, "images": images or {}}), "utf-8")
    return str(path)
