"""Estimated cost of provider calls, from one price table (data/prices.json, overridable)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any


def _match(table: dict[str, Any], model: str) -> Any | None:
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name)]
    return table[max(prefixes, key=len)] if prefixes else None


@dataclass(frozen=True)
class PriceTable:
    chat: dict[str, dict[str, float]]
    images: dict[str, dict[str, float]]
    moderations: dict[str, float]
    embeddings: dict[str, dict[str, float]] = field(default_factory=dict)

    def chat_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        price = _match(self.chat, model)
        if price is None:
            return None
        return (
            prompt_tokens * price["input_per_million"]
            + completion_tokens * price["output_per_million"]
        ) / 1_000_000

    def image_cost(self, model: str, size: str, images: int) -> float | None:
        price = _match(self.images, model)
        return None if price is None or size not in price else price[size] * images

    def moderation_cost(self, model: str) -> float | None:
        return _match(self.moderations, model)

    def embedding_cost(self, model: str, input_tokens: int) -> float | None:
        price = _match(self.embeddings, model)
        return None if price is None else input_tokens * price["input_per_million"] / 1_000_000


@cache
def _shipped() -> dict[str, Any]:
    return json.loads(resources.files("glimpse_assets.data").joinpath("prices.json").read_text())


def load_prices(override_file: str | None = None) -> PriceTable:
    """The shipped table, with the override file's entries laid over it."""
    tables = {
        name: dict(_shipped().get(name, {}))
        for name in ("chat", "images", "moderations", "embeddings")
    }
    if override_file:
        try:
            override = json.loads(Path(override_file).expanduser().read_text("utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(
                f"GLIMPSE_PRICES_FILE {override_file} is not readable JSON: {error}"
            ) from error
        for name in tables:
            tables[name].update(override.get(name, {}))
    return PriceTable(**tables)
