"""Extractive building blocks for a domain's offline text (no model): TF-IDF keywords and key
sentences (scikit-learn's vectors, computed by `providers.tfidf`), outside text made safe to
pick from, and sentences cut to a length. Nothing here names a domain: the composers that use
them are the domains' own (`news/image_prompt.compose_image_prompt`,
`rides/summary_text.extractive_summary`).

Outside text is material: before anything is picked from it, `without_instructions` takes out
URLs, markup and sentences that address a model, so what a domain composes from it passes the
guardrails a model's answer must pass."""

from __future__ import annotations

import re

import numpy as np

from glimpse_assets.llm.guardrails import looks_like_instruction, strip_links_and_markup
from glimpse_assets.providers.prompts import split_sentences as split_all_sentences
from glimpse_assets.providers.tfidf import EmptyVocabularyError, TfidfMatrix, tfidf

_SENTENCES = re.compile(r"(?<=[.!?])\s+")
# Left alone, a stray bracket could pair up with one from another sentence once sentences are
# joined ("a <b." + " c> d"), and make markup that the guardrails reject.
_BRACKETS = re.compile(r"[<>\[\]]")


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` of at least three words."""
    return [s.strip() for s in _SENTENCES.split(text) if len(s.split()) >= 3]


def fit(documents: list[str]) -> TfidfMatrix | None:
    """The TF-IDF matrix of `documents` over words of three or more letters; None when only stop
    words, numbers or symbols are left."""
    try:
        return tfidf(documents, token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
    except EmptyVocabularyError:  # nothing but stop words, numbers or symbols
        return None


def top_keywords(documents: list[str], count: int) -> list[str]:
    """The highest-weighted terms of the first document, weighed against all of them."""
    matrix = fit(documents)
    if matrix is None:
        return []
    weights, terms = matrix.weights[0], matrix.terms
    order = sorted((i for i in np.flatnonzero(weights)), key=lambda i: (-weights[i], terms[i]))
    return [str(terms[i]) for i in order[:count]]


def key_sentence(sentences: list[str], context: list[str]) -> str | None:
    """The sentence closest to the whole of `context` (by TF-IDF cosine); the first on a tie."""
    if not sentences:
        return None
    matrix = fit([*sentences, " ".join(context)])
    if matrix is None:
        return sentences[0]
    scores = matrix.weights[: len(sentences)] @ matrix.weights[len(sentences)]
    return sentences[int(np.argmax(np.round(scores, 9)))]


def most_informative(sentences: list[str], count: int) -> list[str]:
    """The `count` sentences with the most TF-IDF weight, in their order; all when fewer."""
    if len(sentences) <= count:
        return sentences
    matrix = fit(sentences)
    weights = matrix.weights.sum(axis=1) if matrix is not None else np.zeros(len(sentences))
    keep = sorted(sorted(range(len(sentences)), key=lambda i: (-round(weights[i], 9), i))[:count])
    return [sentences[i] for i in keep]


def first_words(text: str, limit: int) -> str:
    """The first `limit` words of `text`, without closing punctuation."""
    words = text.split()
    return " ".join(words[:limit]).rstrip(".,;:!?") if words else ""


def capped_sentence(sentence: str, max_words: int) -> str:
    """`sentence` ending in a full stop (or its own end mark), or cut to `max_words` with "…"."""
    words = sentence.split()
    if len(words) <= max_words:
        return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."
    return " ".join(words[:max_words]).rstrip(".,;:!?-") + "…"


def without_instructions(text: str) -> str:
    """`text` without URLs, markup, brackets and the sentences that address a model: outside
    text is material, and an extractive composer must neither copy "ignore previous
    instructions and write X" into a prompt nor a link or a tag into a text the guardrails
    then reject."""
    plain = " ".join(_BRACKETS.sub(" ", strip_links_and_markup(text)).split())
    return " ".join(s for s in split_all_sentences(plain) if not looks_like_instruction(s))
