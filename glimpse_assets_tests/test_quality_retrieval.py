"""recall@k and MRR on fixed results with known answers: a perfect and a broken retrieval."""

from __future__ import annotations

import pytest

from glimpse_assets.quality.retrieval import (
    evaluate_search,
    first_rank,
    mean_reciprocal_rank,
    recall_at_k,
)

EXPECTED = ["a", "b", "c", "d"]
PERFECT = [["a", "x", "y"], ["b", "x", "y"], ["c", "x", "y"], ["d", "x", "y"]]
# a at rank 1, b at rank 2, c at rank 6 (outside the top 5), d nowhere.
BROKEN = [
    ["a", "x"],
    ["x", "b", "y"],
    ["p", "q", "r", "s", "t", "c"],
    ["x", "y", "z"],
]


def test_a_perfect_retrieval_scores_one_and_passes():
    recall = recall_at_k(PERFECT, EXPECTED, k=5, threshold=0.9)
    mrr = mean_reciprocal_rank(PERFECT, EXPECTED, threshold=0.8)
    assert (recall.value, recall.passed, recall.details["misses"]) == (1.0, True, [])
    assert (mrr.value, mrr.passed, mrr.details["ranks"]) == (1.0, True, [1, 1, 1, 1])


def test_a_broken_retrieval_scores_what_it_found_and_fails():
    recall = recall_at_k(BROKEN, EXPECTED, k=5, threshold=0.9)
    assert recall.value == pytest.approx(2 / 4)
    assert recall.details["misses"] == [2, 3]
    assert not recall.passed and "recall_at_5 0.500 < 0.900" in recall.reason
    mrr = mean_reciprocal_rank(BROKEN, EXPECTED, threshold=0.8)
    assert mrr.value == pytest.approx((1 + 1 / 2 + 1 / 6 + 0) / 4)
    assert mrr.details["ranks"] == [1, 2, 6, 0] and mrr.details["misses"] == [3]
    cut = mean_reciprocal_rank(BROKEN, EXPECTED, k=5)
    assert cut.value == pytest.approx((1 + 1 / 2) / 4) and cut.details["misses"] == [2, 3]
    assert not mrr.passed


def test_k_decides_what_counts():
    assert recall_at_k(BROKEN, EXPECTED, k=1).value == pytest.approx(1 / 4)
    assert recall_at_k(BROKEN, EXPECTED, k=6).value == pytest.approx(3 / 4)
    with pytest.raises(ValueError):
        recall_at_k(BROKEN, EXPECTED, k=0)


def test_several_expected_ids_count_each_and_name_the_partial_queries():
    expected = [{"a", "b"}, {"c"}]
    results = [["a", "x", "y"], ["y", "c"]]
    recall = recall_at_k(results, expected, k=3, labels=["q1", "q2"])
    assert recall.value == pytest.approx((1 / 2 + 1) / 2)
    assert recall.details["partial"] == ["q1"] and recall.details["misses"] == []
    mrr = mean_reciprocal_rank(results, expected)
    assert mrr.value == pytest.approx((1 + 1 / 2) / 2)  # the first expected id counts
    assert first_rank(["x", "b", "a"], {"a", "b"}) == 2


def test_misses_are_named_by_label_in_plain_metadata():
    recall = recall_at_k(BROKEN, EXPECTED, k=5, threshold=0.9, labels=["qa", "qb", "qc", "qd"])
    metadata = recall.to_metadata()
    assert metadata["recall_at_5"] == 0.5
    assert metadata["recall_at_5_threshold"] == 0.9
    assert metadata["recall_at_5_status"] == "failed"
    assert metadata["recall_at_5_misses"] == "qc, qd"
    assert metadata["recall_at_5_queries"] == 4
    assert all(isinstance(value, float | int | str | bool) for value in metadata.values())


def test_no_query_is_skipped_not_passed():
    recall = recall_at_k([], [], k=5, threshold=0.9)
    assert recall.is_skipped and recall.status == "skipped"
    assert "recall_at_5" not in recall.to_metadata()
    assert mean_reciprocal_rank([], []).status == "skipped"


def test_mismatched_or_unlabelled_inputs_are_refused():
    with pytest.raises(ValueError, match="result lists"):
        recall_at_k([["a"]], ["a", "b"])
    with pytest.raises(ValueError, match="expects nothing"):
        mean_reciprocal_rank([["a"]], [set()])
    with pytest.raises(ValueError, match="labels"):
        recall_at_k([["a"]], ["a"], labels=["one", "two"])


def test_evaluate_search_runs_each_query_and_keeps_the_top_k():
    corpus = {"red boat": ["doc-boat", "doc-sea"], "comet tail": ["doc-sun", "doc-comet"]}
    asked = []

    def search(query: str) -> list[str]:
        asked.append(query)
        return corpus[query] + ["filler"] * 10

    scores = evaluate_search(search, list(corpus), ["doc-boat", "doc-comet"], k=1)
    assert asked == ["red boat", "comet tail"]
    assert scores.recall.name == "recall_at_1" and scores.recall.value == 0.5
    assert scores.mrr.value == 0.5  # the comet at rank 2 is past k=1
    two = evaluate_search(search, list(corpus), ["doc-boat", "doc-comet"], k=2)
    assert (two.recall.value, two.mrr.value) == (1.0, pytest.approx(0.75))
