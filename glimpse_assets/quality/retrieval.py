"""Retrieval quality over a labelled query set: recall@k and mean reciprocal rank.

`results[i]` is what a search returned for query i (ids, best first: document ids, urls,
whatever the labels name); `expected[i]` is the id, or set of ids, that query should find. Both
scores come with the queries that missed (their indices, or `labels` when given), so a check's
metadata says which queries went wrong, not only how many.

- recall@k: per query, the share of its expected ids among the first k results; the mean over
  the queries (with one expected id per query: the share of queries that found it in the top k).
- MRR: per query, 1 / the rank of the first expected id among the results (0 when absent, or
  when past `k` if `k` is given); the mean over the queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from glimpse_assets.quality.score import Score

Expected = str | set[str] | frozenset[str]

# What a day's search check holds the day's index to (k=5, warn below), calibrated on the sample
# week 2026-11-01..07 (benchmarks/quality_week.py): the shipped chunking scores recall@5
# 0.955-1.0 and MRR 0.875-0.958 on every day; a chunking that keeps only each document's first
# 32 word pieces scores MRR 0.68-0.84 (caught every day), titles alone 0.72-0.86 (6 of 7 days).
K = 5
RECALL_THRESHOLD = 0.9
MRR_THRESHOLD = 0.85


def _expected_set(expected: Expected) -> frozenset[str]:
    return frozenset([expected]) if isinstance(expected, str) else frozenset(expected)


def _check(results: Sequence[Sequence[str]], expected: Sequence[Expected], labels) -> None:
    if len(results) != len(expected):
        raise ValueError(f"{len(results)} result lists for {len(expected)} expected answers")
    if labels is not None and len(labels) != len(expected):
        raise ValueError(f"{len(labels)} labels for {len(expected)} queries")
    for index, wanted in enumerate(expected):
        if not _expected_set(wanted):
            raise ValueError(f"query {index} expects nothing: a labelled query needs an answer")


def _names(indices: list[int], labels: Sequence[str] | None) -> list[str] | list[int]:
    return [labels[i] for i in indices] if labels is not None else indices


def first_rank(result: Sequence[str], expected: Expected) -> int | None:
    """The 1-based rank of the first expected id in `result`, or None."""
    wanted = _expected_set(expected)
    return next((rank for rank, item in enumerate(result, 1) if item in wanted), None)


def recall_at_k(
    results: Sequence[Sequence[str]],
    expected: Sequence[Expected],
    k: int = 5,
    threshold: float | None = None,
    labels: Sequence[str] | None = None,
) -> Score:
    """Mean recall@k over the queries, with the queries that found none of their ids in the
    top k (`misses`) and those that found only some (`partial`). No query: skipped."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    _check(results, expected, labels)
    name = f"recall_at_{k}"
    if not expected:
        return Score.skipped(name, "no labelled query to run")
    shares, misses, partial = [], [], []
    for index, (result, wanted) in enumerate(zip(results, expected, strict=True)):
        wanted_ids = _expected_set(wanted)
        found = len(wanted_ids & set(result[:k]))
        shares.append(found / len(wanted_ids))
        if found == 0:
            misses.append(index)
        elif found < len(wanted_ids):
            partial.append(index)
    details = {"queries": len(expected), "k": k, "misses": _names(misses, labels)}
    details["missed_queries"] = len(misses)
    if partial:
        details["partial"] = _names(partial, labels)
    return Score.measured(name, sum(shares) / len(shares), threshold, details)


def mean_reciprocal_rank(
    results: Sequence[Sequence[str]],
    expected: Sequence[Expected],
    k: int | None = None,
    threshold: float | None = None,
    labels: Sequence[str] | None = None,
) -> Score:
    """Mean of 1/rank of each query's first expected id (0 when not found, or found past `k`),
    with the queries not found (`misses`) and the ranks (`ranks`, 0 for a miss)."""
    _check(results, expected, labels)
    if not expected:
        return Score.skipped("mrr", "no labelled query to run")
    ranks = []
    for result, wanted in zip(results, expected, strict=True):
        rank = first_rank(result if k is None else result[:k], wanted)
        ranks.append(rank or 0)
    misses = [index for index, rank in enumerate(ranks) if rank == 0]
    value = sum(1 / rank for rank in ranks if rank) / len(ranks)
    details = {
        "queries": len(expected),
        "misses": _names(misses, labels),
        "missed_queries": len(misses),
        "ranks": ranks,
    }
    if k is not None:
        details["k"] = k
    return Score.measured("mrr", value, threshold, details)


@dataclass(frozen=True)
class RetrievalScores:
    recall: Score
    mrr: Score

    @property
    def scores(self) -> list[Score]:
        return [self.recall, self.mrr]


def evaluate_search(
    search: Callable[[str], Sequence[str]],
    queries: Sequence[str],
    expected: Sequence[Expected],
    k: int = 5,
    recall_threshold: float | None = None,
    mrr_threshold: float | None = None,
    labels: Sequence[str] | None = None,
) -> RetrievalScores:
    """Run each query through `search` (query -> ids, best first; asked for at least `k`) and
    score the answers: recall@k and MRR within the top k."""
    if len(queries) != len(expected):
        raise ValueError(f"{len(queries)} queries for {len(expected)} expected answers")
    results = [list(search(query))[:k] for query in queries]
    return RetrievalScores(
        recall_at_k(results, expected, k, recall_threshold, labels),
        mean_reciprocal_rank(results, expected, k, mrr_threshold, labels),
    )
