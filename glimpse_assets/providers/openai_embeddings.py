"""`OpenAIEmbedder`: any OpenAI-compatible `/embeddings` endpoint, through `llm.gateway.LLMCalls`
(cached, costed, budgeted like every paid call).

Texts are sent `batch_size` to a request, duplicates once. `dimensions` is requested from the
models that can shorten their vectors (text-embedding-3-*); any other model must answer with
vectors of exactly `dimensions` (e.g. 768 for nomic-embed-text). Every answer is checked (one
vector per input, of that length, finite and non-zero) and L2-normalised before it is cached.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from glimpse_assets.llm.gateway import CallSpec, LLMCalls
from glimpse_assets.providers.base import ProviderOutputError
from glimpse_assets.providers.embeddings import (
    Embedder,
    EmbeddingResult,
    l2_normalise,
    table_slug,
)
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.settings import ConfigurationError, EmbeddingSettings, setting

if TYPE_CHECKING:
    import numpy as np

METHOD = "embedding model via an OpenAI-compatible Embeddings API, L2-normalised"
# The models whose vectors the API shortens on request (the `dimensions` parameter).
SHORTENABLE_PREFIXES = ("text-embedding-3",)
# OpenAI takes up to 2,048 inputs a request; fewer keeps one rejected answer cheap.
BATCH_SIZE = 128


def embedding_usage(response: dict[str, Any]) -> dict[str, int]:
    usage = response.get("usage") or {}
    return {name: int(usage[name]) for name in ("prompt_tokens", "total_tokens") if name in usage}


def _vector(embedding: Any) -> Any:
    """A float list, or the base64 of little-endian float32 (the API's `base64` format)."""
    import numpy as np

    if isinstance(embedding, str):
        try:
            return np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4")
        except (binascii.Error, ValueError):
            return None
    return embedding


def parse_vectors(response: dict[str, Any], count: int, dimension: int, model: str) -> np.ndarray:
    """The (count, dimension) unit vectors of one answer, in input order, or a
    `ProviderOutputError` saying what is wrong with it."""
    import numpy as np

    data = response.get("data")
    if not isinstance(data, list) or len(data) != count:
        got = len(data) if isinstance(data, list) else "no"
        raise ProviderOutputError(f"{model} returned {got} embeddings for {count} inputs")
    indexes = [item.get("index", position) for position, item in enumerate(data)]
    if sorted(indexes) != list(range(count)):
        raise ProviderOutputError(f"{model} returned embeddings for inputs {sorted(indexes)}")
    rows: list[Any] = [None] * count
    for index, item in zip(indexes, data, strict=True):
        rows[index] = _vector(item.get("embedding"))
    lengths = sorted({len(row) if row is not None else 0 for row in rows})
    if lengths != [dimension]:
        raise ProviderOutputError(
            f"{model} returned vectors of length {', '.join(map(str, lengths))}, expected "
            f"{dimension} (GLIMPSE_EMBEDDING_DIMENSIONS)"
        )
    try:
        vectors = np.array(rows, dtype=np.float32)
    except (TypeError, ValueError) as error:
        message = f"{model} returned vectors that are not numbers: {error}"
        raise ProviderOutputError(message) from None
    return l2_normalise(vectors, model)


class OpenAIEmbedder(Embedder):
    openai: OpenAIClient
    calls: LLMCalls
    model: str = setting(EmbeddingSettings, "model")
    dimensions: int = setting(EmbeddingSettings, "dimensions", ge=1)
    batch_size: int = Field(default=BATCH_SIZE, ge=1, le=2048, description="Inputs a request.")

    @property
    def dimension(self) -> int:
        return self.dimensions

    @property
    def index_table(self) -> str:
        return table_slug("openai", self.model, self.dimensions)

    def api(self) -> OpenAIClient:
        """The client settings with the key itself: Dagster resolves `dg.EnvVar` when a run
        starts; the service uses this resource as built, so the key is read here."""
        key = self.openai.api_key
        if not isinstance(key, dg.EnvVar):
            return self.openai
        value = key.get_value()
        if not value:
            raise ConfigurationError(
                f"{key.env_var_name} is not set: GLIMPSE_EMBEDDINGS=openai needs it"
            )
        return self.openai.with_api_key(value)

    def request(self, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self.model.startswith(SHORTENABLE_PREFIXES):
            body["dimensions"] = self.dimensions
        return body

    def embed(self, context: Any, texts: list[str]) -> EmbeddingResult:
        import numpy as np

        start = time.perf_counter()
        unique = list(dict.fromkeys(texts))
        batches = [unique[i : i + self.batch_size] for i in range(0, len(unique), self.batch_size)]
        prices = self.calls.prices()
        # No more tokens than UTF-8 bytes: a true worst case for the budget guard.
        specs = [
            CallSpec(
                "embeddings",
                self.model,
                self.request(batch),
                prices.embedding_cost(self.model, sum(len(t.encode("utf-8")) for t in batch)),
            )
            for batch in batches
        ]

        def parse(spec: CallSpec, response: dict[str, Any]) -> tuple[str, np.ndarray]:
            count = len(spec.request["input"])
            vectors = parse_vectors(response, count, self.dimensions, spec.model)
            return str(response.get("model") or spec.model), vectors

        def cost(spec: CallSpec, response: dict[str, Any]) -> float | None:
            tokens = embedding_usage(response).get("prompt_tokens")
            return None if tokens is None else prices.embedding_cost(spec.model, tokens)

        parsed: list[tuple[str, np.ndarray]] = []
        stats_metadata: dict[str, Any] = {}
        if specs:
            api = self.api()
            with api.get_client() as client:
                parsed, stats = self.calls.run(
                    context, client, specs, parse, cost, embedding_usage, [api.api_key]
                )
            stats_metadata = stats.metadata()
        by_text = {
            text: row
            for batch, (_, got) in zip(batches, parsed, strict=True)
            for text, row in zip(batch, got, strict=True)
        }
        vectors = np.array([by_text[text] for text in texts], dtype=np.float32).reshape(
            len(texts), self.dimensions
        )
        # The model name the server answered with (e.g. a dated snapshot), else the one asked for.
        answered = sorted({name for name, _ in parsed}) or [self.model]
        return EmbeddingResult(
            vectors=vectors,
            provider="openai",
            model=self.model,
            revision=", ".join(answered),
            method=METHOD,
            metadata={
                "texts": len(texts),
                "unique_texts": len(unique),
                "batches": len(batches),
                **stats_metadata,
                "seconds": round(time.perf_counter() - start, 3),
            },
        )
