"""Cosine similarity of texts, through an embedding function the caller passes.

An `Embed` takes texts and returns one row per text (any float array); rows are scaled to unit
length here, so any embedder will do. The evaluations' thresholds are calibrated on MiniLM
(`minilm_embed`: all-MiniLM-L6-v2 offline, deterministic, the code location's own embedder),
so a check uses it whatever embedder the search index uses: scores stay comparable from day to
day and from one deployment to another. numpy, and with `minilm_embed` onnxruntime and
tokenizers, load when the first texts are compared, never at import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Embed = Callable[[list[str]], "np.ndarray"]


def minilm_embed(texts: list[str]) -> np.ndarray:
    """MiniLM vectors of `texts` (offline, deterministic; the model loads on first use)."""
    from glimpse_assets.providers.minilm_embedder import encode

    return encode(list(texts))


def unit_rows(embed: Embed, texts: Sequence[str]) -> np.ndarray:
    """One unit-length float64 row per text, in order (a zero row stays zero)."""
    import numpy as np

    if not texts:
        return np.zeros((0, 0))
    vectors = np.asarray(embed(list(texts)), dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ValueError(
            f"the embedding function returned shape {vectors.shape} for {len(texts)} texts"
        )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def cosine_matrix(embed: Embed, rows: Sequence[str], columns: Sequence[str]) -> np.ndarray:
    """(len(rows), len(columns)) cosine similarities, all texts embedded in one call."""
    import numpy as np

    if not rows or not columns:
        return np.zeros((len(rows), len(columns)))
    vectors = unit_rows(embed, [*rows, *columns])
    return np.clip(vectors[: len(rows)] @ vectors[len(rows) :].T, -1.0, 1.0)
