"""Shapes a model's answer can be held to, as plain functions: one paragraph of so many words,
or at most so many sentences on one line. Nothing here names a domain: a domain's prompts and the
limits it holds its answers to live in its own folder (`news/image_prompt.py`,
`rides/summary_text.py`, `stories/story_text.py`, `sms/answers.py`)."""

from __future__ import annotations

import re

from glimpse_assets.llm.guardrails import reject_links_and_markup
from glimpse_assets.providers.base import ProviderOutputError

_QUOTES = "\"'\u201c\u201d\u2018\u2019"  # straight and curly quotes
_TRAILING_PUNCTUATION = ",;:-\u2013\u2014"  # with en and em dashes
_MARKDOWN = re.compile(r"[*_#`>]+")
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+")


def split_sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE_SPLIT.split(text)) if s]


def shape_paragraph(
    text: str,
    min_words: int,
    max_words: int,
    what: str = "paragraph",
    label: str | None = None,
) -> str:
    """One paragraph of `min_words` to `max_words` words, or a `ProviderOutputError` naming
    `what` was asked for.

    Line breaks, Markdown marks, a leading label (the regular expression `label`, matched
    without regard to case, e.g. "Prompt:") and wrapping quotes are removed; an answer that is
    too long is cut at the last sentence end that keeps it long enough, else at the word limit.
    """
    reject_links_and_markup(text, what)  # HTML, links and URLs: before any clean-up
    flat = " ".join(_MARKDOWN.sub(" ", text).split())
    if label is not None:
        flat = re.sub(label, "", flat, count=1, flags=re.IGNORECASE)
    flat = flat.strip().strip(_QUOTES).strip()
    words = flat.split()
    if len(words) < min_words:
        raise ProviderOutputError(
            f"the {what} has {len(words)} words; at least {min_words} are needed: {flat!r}"
        )
    if len(words) <= max_words:
        return flat
    cut = " ".join(words[:max_words])
    ends = [m.end() for m in _SENTENCE_END.finditer(cut)]
    if ends and len(cut[: ends[-1]].split()) >= min_words:
        return cut[: ends[-1]]
    return cut.rstrip(_TRAILING_PUNCTUATION) + "."


def shape_sentences(text: str, max_sentences: int, max_words: int, what: str = "text") -> str:
    """At most `max_sentences` sentences on one line, of at most `max_words` words in all, or a
    `ProviderOutputError` naming `what` when it is empty or longer."""
    reject_links_and_markup(text, what)
    flat = " ".join(_MARKDOWN.sub(" ", text).split()).strip(_QUOTES).strip()
    sentences = split_sentences(flat)
    if not sentences:
        raise ProviderOutputError(f"the {what} is empty")
    shaped = " ".join(sentences[:max_sentences])
    if len(shaped.split()) > max_words:
        raise ProviderOutputError(
            f"the {what} has {len(shaped.split())} words, more than {max_words}"
        )
    return shaped
