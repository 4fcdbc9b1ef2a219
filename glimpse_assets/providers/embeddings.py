"""The embedding interface: texts in, one L2-normalised float32 row per text out.

An `Embedder` names its vector space (`index_table`: model, weights and dimension), so vectors
of two models never share a table: comparing them would rank by noise. numpy is imported when
vectors are made, never when the code location loads.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from glimpse_assets.providers.base import ProviderOutputError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: np.ndarray  # (len(texts), dimension) float32, each row of unit L2 norm, input order
    provider: str
    model: str
    revision: str  # what exactly ran: a package version, or the server's model name
    method: str  # in words a reader of the metadata understands
    metadata: dict[str, Any] = field(default_factory=dict)  # what was measured


class Embedder(dg.ConfigurableResource, ABC):
    @property
    @abstractmethod
    def dimension(self) -> int:
        """The length of every vector this embedder returns."""

    @property
    @abstractmethod
    def index_table(self) -> str:
        """A stable table name for this vector space, e.g. `minilm_l6_v2_int8_384`."""

    @abstractmethod
    def embed(self, context: Any, texts: list[str]) -> EmbeddingResult:
        """One vector per text, in order. `context` is a Dagster context or None (the service)."""

    def embed_query(self, text: str) -> np.ndarray:
        """One search query's vector, outside any Dagster run."""
        return self.embed(None, [text]).vectors[0]


def table_slug(*parts: str | int) -> str:
    """`openai`, `text-embedding-3-small`, 384 -> `openai_text_embedding_3_small_384`."""
    joined = "_".join(str(part) for part in parts)
    return re.sub(r"[^a-z0-9]+", "_", joined.lower()).strip("_")


def l2_normalise(vectors: np.ndarray, what: str) -> np.ndarray:
    """Rows scaled to unit length, as float32. A row that is zero or not finite has no direction
    to keep: a `ProviderOutputError` naming `what` made it."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    bad = ~np.isfinite(norms[:, 0]) | (norms[:, 0] == 0)
    if bad.any():
        raise ProviderOutputError(
            f"{what} returned {int(bad.sum())} vector(s) that are zero or not finite "
            f"(first at position {int(np.flatnonzero(bad)[0])})"
        )
    return vectors / norms
