"""The resources every domain shares, built once from the shared settings: `object_store`,
`io_manager`, `text_provider`, `image_provider` (and `llm`, the gateway, with the openai
provider). Each domain's Definitions includes these same instances, so that it loads alone and
`Definitions.merge` accepts them (it rejects two different resources under one key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from glimpse_assets.providers.base import ImageProvider, TextProvider
from glimpse_assets.settings import ProviderSettings, StorageSettings
from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets.storage.resource import ObjectStoreResource


@dataclass(frozen=True)
class SharedResources:
    providers: ProviderSettings
    resources: Mapping[str, Any]

    @property
    def object_store(self) -> ObjectStoreResource:
        return self.resources["object_store"]

    @property
    def text_provider(self) -> TextProvider:
        return self.resources["text_provider"]

    @property
    def image_provider(self) -> ImageProvider:
        return self.resources["image_provider"]


def provider_resources(settings: ProviderSettings, object_store: ObjectStoreResource) -> dict:
    if settings.kind == "offline":
        from glimpse_assets.providers.offline_image import OfflineImageProvider
        from glimpse_assets.providers.offline_text import OfflineTextProvider

        return {"text_provider": OfflineTextProvider(), "image_provider": OfflineImageProvider()}
    from glimpse_assets.llm.gateway import LLMCalls
    from glimpse_assets.providers.openai_client import OpenAIClient
    from glimpse_assets.providers.openai_provider import OpenAIImageProvider, OpenAITextProvider

    client = OpenAIClient(api_key=dg.EnvVar("OPENAI_API_KEY"), base_url=settings.openai_base_url)
    llm = LLMCalls(
        object_store=object_store,
        daily_budget_usd=settings.daily_budget_usd,
        prices_file=settings.prices_file,
        max_concurrency=settings.max_concurrency,
        max_retries=settings.max_retries,
        timeout_seconds=settings.timeout_seconds,
    )
    return {
        "llm": llm,
        "text_provider": OpenAITextProvider(openai=client, calls=llm, model=settings.text_model),
        "image_provider": OpenAIImageProvider(openai=client, calls=llm, model=settings.image_model),
    }


def shared_resources(env: Mapping[str, str]) -> SharedResources:
    storage = StorageSettings.from_env(env)
    providers = ProviderSettings.from_env(env)
    object_store = ObjectStoreResource(storage_uri=storage.storage_uri)
    return SharedResources(
        providers=providers,
        resources={
            "object_store": object_store,
            "io_manager": GlimpseIOManager(object_store=object_store),
            **provider_resources(providers, object_store),
        },
    )
