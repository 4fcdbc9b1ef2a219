"""Grounding on fixed texts with known answers: a grounded and an invented answer, with MiniLM
(the embedder the checks use) and with a bag-of-words embedding whose similarities are known."""

from __future__ import annotations

import re

import numpy as np
import pytest

from glimpse_assets.quality.grounding import (
    GROUNDING_THRESHOLD,
    find_citations,
    grounding,
    length_failures,
    sentences,
    without_citations,
)
from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.sms.answers import MAX_REPLY_CHARS, with_citation

TITLE = "Kestrel Valley Rowing Club Wins Harbour Festival Dragon Boat Final"
SOURCE = (
    f"{TITLE}\nSixteen paddlers from the Kestrel Valley Rowing Club crossed the finish buoy half "
    "a boat length ahead of their rivals in the Port Aldermere dragon boat final. Their long red "
    "boat, carved with a golden dragon's head, cut through choppy green water as a drummer kept "
    "time at the bow. Supporters on the harbour wall waved orange flags and rang hand bells."
)
OTHER_SOURCE = (
    "Comet Wrenfield Grows a Bright Green Tail as It Nears the Sun\nThe comet's tail now "
    "stretches across several degrees of sky."
)
GROUNDED = (
    "The Kestrel Valley Rowing Club took the dragon boat title at the harbour festival. "
    "A drummer at the bow kept the rhythm as the red boat crossed choppy water. "
    "Fans waved orange flags from the harbour wall."
)
INVENTED = (
    "The Kestrel Valley Rowing Club took the dragon boat title at the harbour festival. "
    "The club's coach was arrested for fraud after the race. "
    "The team will now compete in the national championship in Berlin next month."
)
HIT = {"title": TITLE, "published": "2026-11-04T09:12:00+00:00", "text": SOURCE}


def test_a_grounded_answer_passes():
    score = grounding(GROUNDED, [OTHER_SOURCE, SOURCE], minilm_embed)
    assert score.passed and score.value == 1.0
    assert score.details["sentences"] == 3 and score.details["unsupported"] == []
    assert score.details["min_similarity"] >= GROUNDING_THRESHOLD
    assert score.details["verbatim_share"] == 0.0  # reworded, not copied


def test_an_invented_answer_fails_and_names_its_sentences_by_index():
    score = grounding(INVENTED, [OTHER_SOURCE, SOURCE], minilm_embed)
    assert not score.passed
    assert score.value == pytest.approx(1 / 3)
    assert score.details["unsupported"] == [1, 2]
    metadata = score.to_metadata()
    assert metadata["grounded_share_unsupported"] == "1, 2"
    assert "arrested" not in str(metadata)  # indices, never the sentences
    assert grounding(INVENTED, [SOURCE], minilm_embed, min_share=0.3).passed


def test_a_copied_sentence_is_verbatim():
    copied = "Supporters on the harbour wall waved orange flags and rang hand bells."
    score = grounding(copied, [SOURCE], minilm_embed)
    assert score.passed and score.details["verbatim_share"] == 1.0


def test_the_sms_reply_citation_is_found_and_not_a_claim():
    reply = with_citation("Sixteen paddlers from Kestrel Valley won the dragon boat final.", HIT)
    assert find_citations(reply) == [f"({TITLE}, 2026-11-04)"]
    assert without_citations(reply) == (
        "Sixteen paddlers from Kestrel Valley won the dragon boat final."
    )
    score = grounding(
        reply, [SOURCE], minilm_embed, require_citation=True, max_chars=MAX_REPLY_CHARS
    )
    assert score.passed and score.details["citations"] == 1 and score.details["sentences"] == 1


def test_an_uncited_answer_fails_when_citations_are_required():
    answer = "Sixteen paddlers from Kestrel Valley won the dragon boat final."
    score = grounding(answer, [SOURCE], minilm_embed, require_citation=True)
    assert score.value == 1.0 and not score.passed and score.reason == "no citation"
    assert grounding(answer, [SOURCE], minilm_embed).passed


def test_numbered_and_link_citations():
    text = "[2] The comet grew a tail. See https://news.example/sample/comet for more."
    assert find_citations(text) == ["[2]", "https://news.example/sample/comet"]
    assert sentences(without_citations(text)) == ["The comet grew a tail.", "See for more."]


def test_length_limits_fail_the_score():
    long_answer = with_citation(f"{GROUNDED} {GROUNDED}", HIT, limit=10_000)
    assert len(long_answer) > MAX_REPLY_CHARS
    score = grounding(long_answer, [SOURCE], minilm_embed, max_chars=MAX_REPLY_CHARS)
    assert score.value == 1.0 and not score.passed
    assert re.fullmatch(r"\d+ characters, more than 320", score.reason)
    assert grounding(GROUNDED, [SOURCE], minilm_embed, max_words=20).reason == (
        "37 words, more than 20"
    )
    assert length_failures("one two", min_words=3) == ["2 words, fewer than 3"]
    assert length_failures("one two three four", max_words=3) == ["4 words, more than 3"]


def test_nothing_to_evaluate_is_skipped():
    assert grounding("  ", [SOURCE], minilm_embed).status == "skipped"
    assert grounding(GROUNDED, [], minilm_embed).status == "skipped"
    only_citation = grounding(f"({TITLE}, 2026-11-04)", [SOURCE], minilm_embed)
    assert not only_citation.passed and "no sentence" in only_citation.reason


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A vector per text over a fixed vocabulary: known, exact similarities."""
    vocabulary = ["boat", "won", "final", "comet", "tail", "snow", "road"]
    return np.array(
        [[float(word in re.findall(r"\w+", text.lower())) for word in vocabulary] for text in texts]
    )


def test_threshold_and_share_on_known_similarities():
    sources = ["boat won final.", "comet tail."]
    output = "boat won final. comet snow. snow road."
    score = grounding(output, sources, bag_of_words, threshold=0.49)
    # "comet snow" vs "comet tail": one word of two shared, 1/(sqrt2*sqrt2) = 0.5; "snow road": 0.
    assert score.details["similarities"] == [1.0, 0.5, 0.0]
    assert score.details["unsupported"] == [2] and score.value == pytest.approx(2 / 3)
    assert grounding(output, sources, bag_of_words, threshold=0.51).details["unsupported"] == [
        1,
        2,
    ]
