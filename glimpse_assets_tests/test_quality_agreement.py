"""Prompt-digest agreement and the rules, on fixed texts: a prompt about the main story passes,
one about other news or about nothing in particular fails (MiniLM, as in the checks)."""

from __future__ import annotations

import pytest

from glimpse_assets.quality.agreement import (
    AGREEMENT_THRESHOLD,
    agreement,
    forbidden_found,
    rule_failures,
)
from glimpse_assets.quality.similarity import minilm_embed

MAIN_STORY = (
    "Cindergate Station Reopens With a Restored Glass Roof and Tiled Clock Hall. Cindergate "
    "Station has reopened as the northern terminus of the new Thistledown Line after two years "
    "of careful restoration. Sunlight now pours through its arched glass roof onto a clock hall "
    "lined with cobalt and cream tiles. A great four-faced clock, cleaned and regilded, hangs "
    "above a café serving scones on the old ticket counter."
)
# As a model writes an image prompt: the scene, light, colours and a style, few of the words.
MODEL_PROMPT = (
    "A grand old railway station in morning light, sunlight streaming through an arched glass "
    "roof onto walls of cobalt and cream tiles, a huge four-faced golden clock hanging above a "
    "small cafe where travellers eat scones, a green train waiting at the platform, soft "
    "watercolour style, warm colours."
)
OTHER_NEWS_PROMPT = (
    "A cheerful harbour at dusk with fishing boats carrying paper lanterns in saffron and teal, "
    "a brass band on the lighthouse steps, violet sky, warm painterly light."
)
GENERIC_PROMPT = (
    "A beautiful colourful scene full of happy people on a sunny day, warm painterly light, "
    "rich colour, clear composition."
)
STYLE = "Style: warm painterly light, rich colour, clear composition, no text or lettering."


def test_a_prompt_about_the_main_story_agrees():
    score = agreement(MODEL_PROMPT, MAIN_STORY, minilm_embed)
    assert score.passed and score.value >= AGREEMENT_THRESHOLD
    assert score.name == "prompt_digest_similarity"


@pytest.mark.parametrize("prompt", [OTHER_NEWS_PROMPT, GENERIC_PROMPT])
def test_a_prompt_about_something_else_does_not(prompt):
    score = agreement(prompt, MAIN_STORY, minilm_embed)
    assert not score.passed and score.value < AGREEMENT_THRESHOLD
    good = agreement(MODEL_PROMPT, MAIN_STORY, minilm_embed).value
    assert score.value < good - 0.2


def test_the_rules_fail_an_agreeing_prompt():
    score = agreement(
        MODEL_PROMPT,
        MAIN_STORY,
        minilm_embed,
        min_words=20,
        max_words=40,
        forbidden=["Visual motifs", "watercolour style", "lettering"],
    )
    assert score.value >= AGREEMENT_THRESHOLD and not score.passed
    assert score.reason == "48 words, more than 40; forbidden: 'watercolour style'"
    assert score.details["forbidden_found"] == ["watercolour style"]
    metadata = score.to_metadata()
    assert metadata["prompt_digest_similarity_rules_broken"] == 2
    assert metadata["prompt_digest_similarity_forbidden_found"] == "watercolour style"


def test_ignored_boilerplate_neither_helps_nor_hurts():
    with_style = f"{GENERIC_PROMPT} {STYLE}"
    plain = agreement(GENERIC_PROMPT, MAIN_STORY, minilm_embed)
    ignored = agreement(with_style, MAIN_STORY, minilm_embed, ignore=[STYLE])
    assert ignored.value == pytest.approx(plain.value, abs=1e-6)


def test_forbidden_phrases_match_whole_words_in_any_case():
    assert forbidden_found("Visual MOTIFS: tenby, comet", ["visual motifs", "tent"]) == [
        "visual motifs"
    ]
    assert forbidden_found("no text or lettering", ["text", "letter"]) == ["text"]
    assert rule_failures("one two three", min_words=4) == ["3 words, fewer than 4"]


def test_an_empty_text_is_skipped():
    assert agreement("", MAIN_STORY, minilm_embed).status == "skipped"
    assert agreement(STYLE, MAIN_STORY, minilm_embed, ignore=[STYLE]).status == "skipped"
