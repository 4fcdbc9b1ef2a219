"""The resources every domain shares, built once from the shared settings: `object_store`,
`io_manager`, `text_provider`, `image_provider`, `embedder` (and, when the providers or the
embeddings are openai, `openai`, dagster-openai's OpenAIResource for the server, and `llm`, the
gateway). Each domain's Definitions includes these same instances, so that it loads alone and
`Definitions.merge` accepts them (it rejects two different resources under one key).

Secrets named in GLIMPSE_SECRETS_FROM (`glimpse_assets.secrets`) are loaded into the environment
first, so the settings and every `dg.EnvVar` see them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from glimpse_assets.providers.base import ImageProvider, TextProvider
from glimpse_assets.providers.embeddings import Embedder
from glimpse_assets.settings import EmbeddingSettings, ProviderSettings, StorageSettings
from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets.storage.resource import ObjectStoreResource


@dataclass(frozen=True)
class SharedResources:
    providers: ProviderSettings
    resources: Mapping[str, Any]
    embeddings: EmbeddingSettings = field(default_factory=EmbeddingSettings)

    @property
    def object_store(self) -> ObjectStoreResource:
        return self.resources["object_store"]

    @property
    def text_provider(self) -> TextProvider:
        return self.resources["text_provider"]

    @property
    def image_provider(self) -> ImageProvider:
        return self.resources["image_provider"]

    @property
    def embedder(self) -> Embedder:
        return self.resources["embedder"]


def openai_client(settings: ProviderSettings):
    """dagster-openai's OpenAIResource (`OpenAIClient`) for the configured server; the key is
    read when a run starts (`dg.EnvVar`). Imports the SDK: only called when openai is used."""
    from glimpse_assets.providers.openai_client import OpenAIClient

    return OpenAIClient(
        api_key=dg.EnvVar("OPENAI_API_KEY"),
        base_url=settings.openai_base_url,
        organization=settings.openai_organization,
        project=settings.openai_project,
    )


def llm_gateway(settings: ProviderSettings, object_store: ObjectStoreResource):
    from glimpse_assets.llm.gateway import LLMCalls

    return LLMCalls(
        object_store=object_store,
        daily_budget_usd=settings.daily_budget_usd,
        prices_file=settings.prices_file,
        max_concurrency=settings.max_concurrency,
        max_retries=settings.max_retries,
        timeout_seconds=settings.timeout_seconds,
    )


def provider_resources(
    settings: ProviderSettings,
    object_store: ObjectStoreResource,
    embeddings: EmbeddingSettings | None = None,
) -> dict:
    """The text and image providers and the embedder; with any of them on openai, one client
    and one gateway (`llm`) under all of those, so the budget and the cache are shared."""
    embeddings = embeddings or EmbeddingSettings()
    resources: dict[str, Any] = {}
    client = llm = None
    if settings.kind == "openai" or embeddings.embeddings == "openai":
        client, llm = openai_client(settings), llm_gateway(settings, object_store)
        resources |= {"openai": client, "llm": llm}
    if settings.kind == "offline":
        from glimpse_assets.providers.offline_image import OfflineImageProvider
        from glimpse_assets.providers.offline_text import OfflineTextProvider

        resources |= {
            "text_provider": OfflineTextProvider(),
            "image_provider": OfflineImageProvider(),
        }
    else:
        from glimpse_assets.providers.openai_provider import (
            OpenAIImageProvider,
            OpenAITextProvider,
        )

        resources |= {
            "text_provider": OpenAITextProvider(
                openai=client, calls=llm, model=settings.text_model
            ),
            "image_provider": OpenAIImageProvider(
                openai=client, calls=llm, model=settings.image_model
            ),
        }
    if embeddings.embeddings == "offline":
        from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder

        resources["embedder"] = MiniLMEmbedder()
    else:
        from glimpse_assets.providers.openai_embeddings import OpenAIEmbedder

        resources["embedder"] = OpenAIEmbedder(
            openai=client, calls=llm, model=embeddings.model, dimensions=embeddings.dimensions
        )
    return resources


def shared_resources(env: Mapping[str, str]) -> SharedResources:
    from glimpse_assets.secrets import load_secrets

    env = load_secrets(env)
    storage = StorageSettings.from_env(env)
    providers = ProviderSettings.from_env(env)
    embeddings = EmbeddingSettings.from_env(env)
    object_store = ObjectStoreResource(storage_uri=storage.storage_uri)
    return SharedResources(
        providers=providers,
        resources={
            "object_store": object_store,
            "io_manager": GlimpseIOManager(object_store=object_store),
            **provider_resources(providers, object_store, embeddings),
        },
        embeddings=embeddings,
    )
