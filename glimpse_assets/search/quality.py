"""The search index's daily quality: the day's labelled queries (`quality.queries`), searched
the way the service searches (the query embedded by the index's own embedder, the top `K`
distinct hits, restricted to the day), scored by recall@K and MRR (`quality.retrieval`).

The queries are those of the shipped set whose expected article is among the day's stored
raw_news urls: a day of the sample source has two per article (its title's key words, and what
its body says beyond the title); a day of other news has none, and the check is skipped.
Called by `search.checks.search_index_quality`; numpy, lancedb and the embedder's model load
here, when the check runs.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from glimpse_assets.quality.checks import check_result
from glimpse_assets.quality.queries import queries_for
from glimpse_assets.quality.retrieval import MRR_THRESHOLD, RECALL_THRESHOLD, K, evaluate_search
from glimpse_assets.quality.score import Score
from glimpse_assets.search.steps import stored_raw_news
from glimpse_assets.skipped_checks import NothingToCheck

if TYPE_CHECKING:
    from glimpse_assets.providers.embeddings import Embedder
    from glimpse_assets.search.reader import SearchIndex
    from glimpse_assets.storage.object_store import ObjectStore

RECALL = f"recall_at_{K}"
MRR = "mrr"


def skipped(reason: str) -> NothingToCheck:
    return check_result(Score.skipped(RECALL, reason), Score.skipped(MRR, reason))


def retrieval_check(
    day: str, store: ObjectStore, embedder: Embedder, index: SearchIndex
) -> dg.AssetCheckResult | NothingToCheck:
    """recall@K and MRR of the day's labelled queries on the day's index (a warning below
    `RECALL_THRESHOLD` or `MRR_THRESHOLD`); skipped when the day has no labelled query."""
    raw_news = stored_raw_news(store, day)
    if raw_news is None:
        return skipped(f"no raw_news stored for {day}: no labelled query to run")
    queries = queries_for(raw_news["url"].dropna().astype(str).tolist())
    if not queries:
        return skipped(
            f"none of the {len(raw_news)} articles of {day} is in the labelled query set "
            "(only the sample source's articles are): no query to run"
        )
    the_day = date.fromisoformat(day)

    def search(text: str) -> list[str]:
        hits = index.search(embedder.embed_query(text), K, since=the_day, until=the_day) or []
        return [hit["url"] for hit in hits if hit["url"]]

    scores = evaluate_search(
        search,
        [query.query for query in queries],
        [query.url for query in queries],
        K,
        RECALL_THRESHOLD,
        MRR_THRESHOLD,
        labels=[query.id for query in queries],
    )
    articles = len({query.article for query in queries})
    measured = (
        f"{len(queries)} labelled queries of {day} ({articles} articles), each searched for the "
        f"top {K} hits of the day"
    )
    return check_result(*scores.scores, measured=measured)
