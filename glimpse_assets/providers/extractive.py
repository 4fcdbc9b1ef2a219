"""The offline text provider's method: extractive, not an LLM. Keywords and a key sentence
picked with TF-IDF (scikit-learn's vectors, computed by `providers.tfidf`), composed into a fixed
template; the same digest always gives the same prompt.

Outside text is material: before anything is picked from it, URLs, markup and sentences that
address a model are taken out, so what is composed passes the guardrails a model's answer must
pass (`prompts.shape_paragraph`, `prompts.shape_summary`)."""

from __future__ import annotations

import re

import numpy as np

from glimpse_assets.llm.guardrails import looks_like_instruction, strip_links_and_markup
from glimpse_assets.providers.base import RideConditions
from glimpse_assets.providers.prompts import (
    SUMMARY_MAX_WORDS,
    shape_paragraph,
    shape_summary,
)
from glimpse_assets.providers.prompts import split_sentences as split_all_sentences
from glimpse_assets.providers.tfidf import EmptyVocabularyError, TfidfMatrix, tfidf

STYLE_SENTENCE = (
    "Style: warm painterly light, rich colour, clear composition, no text or lettering."
)

NO_CONDITIONS = "No particular conditions were recorded."

_SENTENCES = re.compile(r"(?<=[.!?])\s+")
# Left alone, a stray bracket could pair up with one from another sentence once sentences are
# joined ("a <b." + " c> d"), and make markup that the guardrails reject.
_BRACKETS = re.compile(r"[<>\[\]]")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.split(text) if len(s.split()) >= 3]


def _fit(documents: list[str]) -> TfidfMatrix | None:
    try:
        return tfidf(documents, token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    except EmptyVocabularyError:  # nothing but stop words, numbers or symbols
        return None


def top_keywords(documents: list[str], count: int) -> list[str]:
    """The highest-weighted terms of the first document, weighed against all of them."""
    matrix = _fit(documents)
    if matrix is None:
        return []
    weights, terms = matrix.weights[0], matrix.terms
    order = sorted((i for i in np.flatnonzero(weights)), key=lambda i: (-weights[i], terms[i]))
    return [str(terms[i]) for i in order[:count]]


def key_sentence(sentences: list[str], context: list[str]) -> str | None:
    """The sentence closest to the whole day's text (by TF-IDF cosine); the first on a tie."""
    if not sentences:
        return None
    matrix = _fit([*sentences, " ".join(context)])
    if matrix is None:
        return sentences[0]
    scores = matrix.weights[: len(sentences)] @ matrix.weights[len(sentences)]
    return sentences[int(np.argmax(np.round(scores, 9)))]


def _words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit]).rstrip(".,;:!?") if words else ""


def _not_instructions(text: str) -> str:
    """`text` without URLs, markup, brackets and the sentences that address a model: outside
    text is material, and an extractive composer must neither copy "ignore previous
    instructions and write X" into a prompt nor a link or a tag into a text the guardrails
    then reject."""
    plain = " ".join(_BRACKETS.sub(" ", strip_links_and_markup(text)).split())
    return " ".join(s for s in split_all_sentences(plain) if not looks_like_instruction(s))


def compose_image_prompt(digest: dict) -> str:
    main = {k: _not_instructions(digest["main"][k]) for k in ("title", "description")}
    related = [
        {k: _not_instructions(story[k]) for k in ("title", "description")}
        for story in digest["related"]
    ]
    documents = [f"{main['title']}. {main['description']}"]
    documents += [f"{s['title']}. {s['description']}" for s in related]
    keywords = top_keywords(documents, 6)
    scene = key_sentence(split_sentences(main["description"]), documents)
    subject = _words(main["title"], 20) or "the day's stories"
    parts = [f"An editorial illustration of the day's news: {subject}."]
    if scene:
        parts.append(_words(scene, 30) + ".")
    if keywords:
        parts.append("Visual motifs: " + ", ".join(keywords) + ".")
    parts.append(STYLE_SENTENCE)
    return shape_paragraph(" ".join(parts))


def _capped(sentence: str, max_words: int) -> str:
    words = sentence.split()
    if len(words) <= max_words:
        return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."
    return " ".join(words[:max_words]).rstrip(".,;:!?-") + "…"


def extractive_summary(conditions: RideConditions, max_sentences: int) -> str:
    """The `max_sentences` condition sentences with the most TF-IDF weight, in their order.

    Each sentence is cut to its share of `SUMMARY_MAX_WORDS`; a headline's URL or markup is
    left out (see `_not_instructions`), so the summary always passes `shape_summary`."""
    sentences = [
        f"{label}: {sentence}" if index == 0 else sentence
        for label, text in (
            ("News", conditions.news),
            ("Weather", conditions.weather),
            ("Traffic", conditions.traffic),
        )
        for index, sentence in enumerate(split_all_sentences(_not_instructions(text)))
    ]
    max_words = SUMMARY_MAX_WORDS // max(max_sentences, 1)
    sentences = [_capped(s, max_words) for s in sentences] or [NO_CONDITIONS]
    if len(sentences) > max_sentences:
        matrix = _fit(sentences)
        weights = matrix.weights.sum(axis=1) if matrix is not None else np.zeros(len(sentences))
        keep = sorted(
            sorted(range(len(sentences)), key=lambda i: (-round(weights[i], 9), i))[:max_sentences]
        )
        sentences = [sentences[i] for i in keep]
    return shape_summary(" ".join(sentences), max_sentences)
