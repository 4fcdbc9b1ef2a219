"""Chunking as pure functions: word-piece bounds, the overlap, ids stable under re-runs."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from glimpse_assets.providers.minilm import MAX_TOKENS, word_piece_tokenizer
from glimpse_assets.search.chunking import (
    SearchDocument,
    chunk_document,
    chunk_documents,
)

TOKENIZER = word_piece_tokenizer()
WORDS = [
    "council",
    "harbour",
    "unaffordable",
    "tram",
    "déjà-vu",
    "2026",
    "naïve",
    "résumé",
    "東京",
    "📈",
    "well-being",
    "re-election",
    "mid-century",
]


def document(text: str, title: str = "Harbour council votes", source: str = "news:test"):
    return SearchDocument("doc-1", source, title, text, "https://example.org/a", None)


def pieces(text: str) -> int:
    return len(TOKENIZER.encode(text).ids)


def long_text(words: int) -> str:
    return " ".join(WORDS[n % len(WORDS)] + ("." if n % 17 == 16 else "") for n in range(words))


def test_a_long_document_becomes_windows_the_model_reads_whole():
    chunks = chunk_document(document(long_text(3000)), TOKENIZER)
    assert len(chunks) > 10
    for chunk in chunks:
        assert chunk.tokens == pieces(chunk.text) <= MAX_TOKENS
        assert chunk.text.startswith("Harbour council votes\n")
    assert [chunk.position for chunk in chunks] == list(range(len(chunks)))
    # Most windows are full: the budget is used, not wasted.
    assert sum(chunk.tokens >= MAX_TOKENS - 8 for chunk in chunks[:-1]) >= len(chunks) - 2


def test_consecutive_windows_overlap_and_cover_the_whole_body():
    body = long_text(1500)
    chunks = chunk_document(document(body), TOKENIZER, overlap=32)
    bodies = [chunk.text.split("\n", 1)[1] for chunk in chunks]
    assert body.startswith(bodies[0]) and body.endswith(bodies[-1])
    for before, after in itertools.pairwise(bodies):
        shared_words = after.split()[:5]
        assert " ".join(shared_words) in before, "the next window starts inside this one"
    no_overlap = chunk_document(document(body), TOKENIZER, overlap=0)
    assert len(no_overlap) < len(chunks)


def test_ids_are_stable_and_depend_on_source_and_text():
    first = chunk_document(document(long_text(800)), TOKENIZER)
    again = chunk_document(document(long_text(800)), TOKENIZER)
    assert [c.id for c in first] == [c.id for c in again]
    other_source = chunk_document(document(long_text(800), source="ingested"), TOKENIZER)
    assert not {c.id for c in first} & {c.id for c in other_source}
    changed = chunk_document(document(long_text(800) + " A late correction."), TOKENIZER)
    assert [c.id for c in changed][:-1] == [c.id for c in first][:-1]
    assert changed[-1].id != first[-1].id
    # The same document twice in one day is indexed once.
    assert len(chunk_documents([document("short"), document("short")], TOKENIZER)) == 1


def test_a_title_only_document_and_a_very_long_title():
    (only,) = chunk_document(document(""), TOKENIZER)
    assert only.text == "Harbour council votes"
    long_title = " ".join(["extraordinary"] * 200)
    chunks = chunk_document(document(long_text(600), title=long_title), TOKENIZER)
    assert all(chunk.tokens <= MAX_TOKENS for chunk in chunks)
    assert pieces(chunks[0].title) - 2 <= 64


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=30)),
        min_size=0,
        max_size=700,
    ),
    st.integers(min_value=0, max_value=64),
)
def test_every_chunk_fits_whatever_the_text(words, overlap):
    chunks = chunk_document(document(" ".join(words)), TOKENIZER, overlap=overlap)
    assert chunks
    for chunk in chunks:
        assert chunk.tokens == pieces(chunk.text) <= MAX_TOKENS
