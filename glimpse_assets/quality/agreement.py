"""Agreement: does a text made from another (an image prompt from the day's digest) still talk
about it, and does it keep the rules it was given?

The score is the cosine similarity of the two texts' embeddings (MiniLM in the checks). Compare
an image prompt with the digest's main story (its title and description: what the image
illustrates), not the whole digest text, whose related stories dilute it: a prompt about the
main story scores well above one about something else (see `AGREEMENT_THRESHOLD`); parts of the
text that are boilerplate (a fixed style sentence) can be left out of the comparison with
`ignore`, so they neither help nor hurt. The rules are parameters: word-count bounds and
forbidden phrases (matched whole-word, case-insensitive; the score names which were found: they
are the caller's own phrases, not the output's text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from glimpse_assets.quality.grounding import word_count
from glimpse_assets.quality.score import Score
from glimpse_assets.quality.similarity import Embed, cosine_matrix

# Calibrated on MiniLM against the main story (title + description) of sample days
# (benchmarks/quality_week.py, glimpse_assets_tests/test_quality_agreement.py): prompts written
# as a model writes them (scene, light, colours, style) 0.48-0.63, the offline extractive prompt
# 0.87-0.96, a prompt about another story 0.1-0.3 (up to 0.49 for a story of the same festival
# or comet week), a generic scene 0.04.
AGREEMENT_THRESHOLD = 0.35


def forbidden_found(text: str, phrases: Sequence[str]) -> list[str]:
    """The `phrases` that occur in `text` (whole words, any case), in the order given."""
    return [
        phrase
        for phrase in phrases
        if phrase.strip()
        and re.search(rf"(?<!\w){re.escape(phrase.strip())}(?!\w)", text, re.IGNORECASE)
    ]


def rule_failures(
    text: str,
    min_words: int | None = None,
    max_words: int | None = None,
    forbidden: Sequence[str] = (),
) -> list[str]:
    failures = []
    words = word_count(text)
    if min_words is not None and words < min_words:
        failures.append(f"{words} words, fewer than {min_words}")
    if max_words is not None and words > max_words:
        failures.append(f"{words} words, more than {max_words}")
    found = forbidden_found(text, forbidden)
    if found:
        failures.append("forbidden: " + ", ".join(repr(phrase) for phrase in found))
    return failures


def _without(text: str, ignore: Sequence[str]) -> str:
    for part in ignore:
        if part:
            text = text.replace(part, " ")
    return " ".join(text.split())


def agreement(
    output: str,
    reference: str,
    embed: Embed,
    threshold: float = AGREEMENT_THRESHOLD,
    min_words: int | None = None,
    max_words: int | None = None,
    forbidden: Sequence[str] = (),
    ignore: Sequence[str] = (),
    name: str = "prompt_digest_similarity",
) -> Score:
    """Cosine similarity of `output` and `reference` (each without the `ignore` passages), held
    to `threshold`, with the rules (`min_words`/`max_words` count the whole output). Details:
    `words`, `forbidden_found`, `rules_broken`. Either text empty: skipped."""
    compared, against = _without(output, ignore), _without(reference, ignore)
    if not compared or not against:
        missing = "output" if not compared else "reference"
        return Score.skipped(name, f"no {missing} text to compare")
    similarity = float(cosine_matrix(embed, [compared], [against])[0, 0])
    rules = rule_failures(output, min_words, max_words, forbidden)
    details = {
        "words": word_count(output),
        "forbidden_found": forbidden_found(output, forbidden),
        "rules_broken": len(rules),
    }
    return Score.measured(name, similarity, threshold, details, True, rules)
