"""Grounding: is every sentence of an output (a summary, an answer) supported by its sources?

A sentence is supported when some sentence of the sources is at least `threshold` alike (cosine
of their embeddings, MiniLM by default in the checks: see `similarity`). The score is the share
of the output's sentences supported; the ones that are not are named by index (0-based, in the
output's order) and never quoted, since an answer may repeat what a person asked. Citations are
taken out before the sentences are split (a citation is not a claim), and counted: an output
that must cite and cites nothing fails, whatever its share. Length limits (words, characters)
are rules of the same score.

Citation styles found by default (`CITATION_PATTERNS`): a numbered source `[2]` (what a model is
asked to begin an SMS answer with), a title and day in brackets `(Title, 2026-11-01)` (how an
SMS reply ends: `sms/answers.citation`), and a link `https://...`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from glimpse_assets.quality.score import Score
from glimpse_assets.quality.similarity import Embed, cosine_matrix

NUMBERED_CITATION = r"\[\s*\d{1,3}\s*\]"
TITLE_DAY_CITATION = r"\([^()\n]{2,}?,\s*\d{4}-\d{2}-\d{2}\)"
URL_CITATION = r"https?://[^\s<>()\[\]]+"
CITATION_PATTERNS: tuple[str, ...] = (NUMBERED_CITATION, TITLE_DAY_CITATION, URL_CITATION)

# Calibrated on MiniLM (glimpse_assets_tests/test_quality_grounding.py): a sentence a model
# rewords from its source scores 0.6-0.9 against it, one about something the sources do not
# say 0.1-0.4.
GROUNDING_THRESHOLD = 0.55
VERBATIM = 0.98  # at least this alike: the sentence is (nearly) copied from a source

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)


def sentences(text: str) -> list[str]:
    """The sentences of `text`: split after . ! ? … and at line breaks; pieces without a word
    (a stray bracket, a dash) are not sentences."""
    parts = (part.strip() for part in _SENTENCE_SPLIT.split(text))
    return [part for part in parts if _WORD.search(part)]


def find_citations(text: str, patterns: Sequence[str] = CITATION_PATTERNS) -> list[str]:
    """The citations in `text`, in order of appearance."""
    found: list[tuple[int, str]] = []
    for pattern in patterns:
        found += [(m.start(), m.group(0)) for m in re.finditer(pattern, text)]
    return [citation for _, citation in sorted(found)]


def without_citations(text: str, patterns: Sequence[str] = CITATION_PATTERNS) -> str:
    for pattern in patterns:
        text = re.sub(pattern, " ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def word_count(text: str) -> int:
    """Words as the domains' shapes count them (`str.split`), a lone dash or bullet not one."""
    return sum(1 for token in text.split() if _WORD.search(token))


def length_failures(
    text: str,
    min_words: int | None = None,
    max_words: int | None = None,
    max_chars: int | None = None,
) -> list[str]:
    """The length rules `text` breaks, in words a check description can show."""
    failures = []
    words = word_count(text)
    if min_words is not None and words < min_words:
        failures.append(f"{words} words, fewer than {min_words}")
    if max_words is not None and words > max_words:
        failures.append(f"{words} words, more than {max_words}")
    if max_chars is not None and len(text) > max_chars:
        failures.append(f"{len(text)} characters, more than {max_chars}")
    return failures


@dataclass(frozen=True)
class SentenceSupport:
    similarity: float  # the best cosine similarity with any source sentence
    source: int  # which source it came from (index into `sources`)
    source_sentence: int  # which sentence of that source


def sentence_support(
    output_sentences: Sequence[str], sources: Sequence[str], embed: Embed
) -> list[SentenceSupport]:
    """For each output sentence, its most alike source sentence (one embedding call)."""
    import numpy as np

    located = [
        (source, position, sentence)
        for source, text in enumerate(sources)
        for position, sentence in enumerate(sentences(text))
    ]
    if not output_sentences:
        return []
    if not located:
        return [SentenceSupport(0.0, -1, -1) for _ in output_sentences]
    similarities = cosine_matrix(embed, list(output_sentences), [s for _, _, s in located])
    best = np.argmax(similarities, axis=1)
    return [
        SentenceSupport(float(similarities[row, column]), *located[column][:2])
        for row, column in enumerate(best)
    ]


def grounding(
    output: str,
    sources: Sequence[str],
    embed: Embed,
    threshold: float = GROUNDING_THRESHOLD,
    min_share: float = 1.0,
    require_citation: bool = False,
    citation_patterns: Sequence[str] = CITATION_PATTERNS,
    min_words: int | None = None,
    max_words: int | None = None,
    max_chars: int | None = None,
    name: str = "grounded_share",
) -> Score:
    """The share of the output's sentences supported by a source sentence (>= `threshold`),
    held to `min_share`, with the citation and length rules. Details: `sentences`,
    `unsupported` (indices), `similarities` (each sentence's best, in order), `min_similarity`,
    `verbatim_share` (sentences copied from a source), `citations`, `words`, `chars`.
    An empty output, or no source to hold it to, is skipped."""
    if not output.strip():
        return Score.skipped(name, "no output to evaluate")
    if not any(sentences(source) for source in sources):
        return Score.skipped(name, "no source text to hold the output to")
    citations = find_citations(output, citation_patterns)
    claims = sentences(without_citations(output, citation_patterns))
    rules = length_failures(output, min_words, max_words, max_chars)
    if require_citation and not citations:
        rules.append("no citation")
    details: dict = {
        "citations": len(citations),
        "words": word_count(output),
        "chars": len(output),
        "threshold_similarity": threshold,
    }
    if not claims:
        # Only a citation: nothing is claimed, so nothing is unsupported, but nothing answered.
        rules.append("no sentence besides the citations")
        return Score.measured(name, 0.0, min_share, {**details, "sentences": 0}, True, rules)
    support = sentence_support(claims, sources, embed)
    unsupported = [i for i, s in enumerate(support) if s.similarity < threshold]
    similarities = [s.similarity for s in support]
    details.update(
        {
            "sentences": len(claims),
            "unsupported": unsupported,
            "unsupported_count": len(unsupported),
            "similarities": [round(s, 3) for s in similarities],
            "min_similarity": min(similarities),
            "verbatim_share": sum(s >= VERBATIM for s in similarities) / len(claims),
        }
    )
    share = (len(claims) - len(unsupported)) / len(claims)
    return Score.measured(name, share, min_share, details, True, rules)
