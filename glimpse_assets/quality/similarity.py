"""Cosine similarity of texts, through an embedding function the caller passes.

An `Embed` takes texts and returns one row per text (any float array); rows are scaled to unit
length here, so any embedder will do. The evaluations' thresholds are calibrated on MiniLM
(`minilm_embed`: all-MiniLM-L6-v2 offline, deterministic, the code location's own embedder),
so a check uses it whatever embedder the search index uses: scores stay comparable from day to
day and from one deployment to another. numpy, and with `minilm_embed` onnxruntime and
tokenizers, load when the first texts are compared, never at import.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Embed = Callable[[list[str]], "np.ndarray"]


MINILM_REMEMBERED = 4096  # texts whose vectors a process keeps (1.5 KB each)
_minilm_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
_minilm_lock = threading.Lock()


def minilm_embed(texts: list[str]) -> np.ndarray:
    """MiniLM vectors of `texts` (offline, deterministic; the model loads on first use).

    Each distinct text is embedded once per process: a day's checks hold many outputs to the
    same sources (every anomaly summary to the day's news, weather and traffic), so most texts
    come again. The model is deterministic, so a remembered vector is the one it would give."""
    import numpy as np

    from glimpse_assets.providers.minilm_embedder import DIMENSION, encode

    texts = list(texts)
    with _minilm_lock:
        new = [t for t in dict.fromkeys(texts) if t not in _minilm_vectors]
        if new:
            for text, vector in zip(new, encode(new), strict=True):
                _minilm_vectors[text] = vector
        rows = [_minilm_vectors[t] for t in texts]
        for text in texts:
            _minilm_vectors.move_to_end(text)
        while len(_minilm_vectors) > MINILM_REMEMBERED:
            _minilm_vectors.popitem(last=False)
    return np.stack(rows) if rows else np.zeros((0, DIMENSION), dtype=np.float32)


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
