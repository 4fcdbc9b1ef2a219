"""Variety: no two texts of a day alike (stories, captions, answers).

The score is the highest cosine similarity between two of the texts (MiniLM in the checks), so
lower is better; it fails above `threshold`, and names the pair (indices into the texts, never
the texts: a story is about a person's activity). Fewer than two texts: skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from glimpse_assets.quality.score import Score
from glimpse_assets.quality.similarity import Embed, unit_rows

# Calibrated on MiniLM: the offline stories of a sample day score 0.6-0.85 (two rides written
# from one template with all their numbers different, 0.92); a copy with one number changed,
# 0.99. Below 0.92 the template itself would fail.
VARIETY_THRESHOLD = 0.95


def variety(
    texts: Sequence[str],
    embed: Embed,
    threshold: float = VARIETY_THRESHOLD,
    name: str = "max_pairwise_similarity",
) -> Score:
    """The most alike pair of `texts`: its similarity (the score), held to `threshold` from
    above. Details: `texts` (the non-empty ones compared), `pair` ("i, j", indices into
    `texts`), `mean_similarity`, `pairs_above` (how many pairs exceed the threshold)."""
    kept = [index for index, text in enumerate(texts) if text.strip()]  # empty: not compared
    if len(kept) < 2:
        reason = "no pair to compare" if kept else "nothing to compare"
        return Score.skipped(name, reason, {"texts": len(kept)})
    import numpy as np

    vectors = unit_rows(embed, [texts[index] for index in kept])
    similarities = np.clip(vectors @ vectors.T, -1.0, 1.0)
    upper = np.triu_indices(len(kept), k=1)
    pairs = similarities[upper]
    best = int(np.argmax(pairs))
    details = {
        "texts": len(kept),
        "pair": [kept[int(upper[0][best])], kept[int(upper[1][best])]],
        "mean_similarity": float(pairs.mean()),
        "pairs_above": int((pairs > threshold).sum()),
    }
    return Score.measured(name, float(pairs[best]), threshold, details, higher_is_better=False)
