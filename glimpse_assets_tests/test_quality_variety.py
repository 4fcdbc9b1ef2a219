"""Variety of a day's texts on fixed stories: distinct ones pass, a near copy fails and is
named by its pair of indices (MiniLM, as in the checks)."""

from __future__ import annotations

import numpy as np
import pytest

from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.quality.variety import VARIETY_THRESHOLD, variety

RIDE = (
    "You covered 22.1 km on this virtual ride, moving for 68 minutes. You averaged 19.4 km/h, "
    "turning the pedals with purpose. The route climbed 1043 metres in all. Your heart beat at "
    "164 bpm on average. Every session like this one adds up, and the log now holds one more "
    "honest entry."
)
OTHER_RIDE = (
    "You covered 41.7 km on this ride, moving for 95 minutes. You averaged 26.3 km/h, turning "
    "the pedals with purpose. The route climbed 310 metres in all. Your heart beat at 142 bpm "
    "on average. Every session like this one adds up, and the log now holds one more honest "
    "entry."
)
SWIM = (
    "You covered 2.4 km on this swim, moving for 50 minutes. Your average pace was 2:05 per 100 "
    "metres, smooth and even. Rest well, drink some water and let the body absorb the work."
)
YOGA = "You logged a yoga session of 30 minutes, a good use of your Sunday morning."


def test_distinct_stories_pass():
    score = variety([YOGA, SWIM, RIDE, OTHER_RIDE], minilm_embed)
    assert score.passed and score.value < VARIETY_THRESHOLD
    assert score.details["pair"] == [2, 3]  # the two rides, one template, are the most alike
    assert score.details["pairs_above"] == 0 and score.details["texts"] == 4


def test_a_story_copied_with_one_number_changed_fails():
    copy = RIDE.replace("22.1", "23.4")
    score = variety([YOGA, RIDE, SWIM, copy], minilm_embed)
    assert not score.passed and score.value > VARIETY_THRESHOLD
    assert score.details["pair"] == [1, 3] and score.details["pairs_above"] == 1
    assert score.to_metadata()["max_pairwise_similarity_pair"] == "1, 3"
    assert "pedals" not in str(score.to_metadata())  # indices, never the stories


def test_pair_indices_point_into_the_texts_given_even_past_an_empty_one():
    score = variety([RIDE, "", SWIM, RIDE], minilm_embed)
    assert score.details["pair"] == [0, 3] and score.value == pytest.approx(1.0, abs=1e-5)


def test_fewer_than_two_texts_is_skipped():
    assert variety([RIDE], minilm_embed).status == "skipped"
    assert variety([RIDE, "  "], minilm_embed).status == "skipped"


def test_known_similarities_with_a_fixed_embedding():
    vectors = {"a": [1.0, 0.0], "b": [0.6, 0.8], "c": [0.0, 1.0]}

    def embed(texts: list[str]) -> np.ndarray:
        return np.array([vectors[text] for text in texts])

    score = variety(["a", "b", "c"], embed, threshold=0.75)
    assert score.value == pytest.approx(0.8) and score.details["pair"] == [1, 2]
    assert score.details["mean_similarity"] == pytest.approx((0.6 + 0.0 + 0.8) / 3)
    assert not score.passed and score.reason == "max_pairwise_similarity 0.800 > 0.750"
    assert variety(["a", "b", "c"], embed, threshold=0.85).passed
