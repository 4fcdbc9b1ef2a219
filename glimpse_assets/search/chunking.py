"""Documents cut into chunks MiniLM reads whole: at most 256 word pieces with [CLS] and [SEP].

MiniLM silently drops every word piece past its 256th, so a long document embedded whole is
searchable by its first page only. Each chunk here is the document's title, a newline, and a
window of the body cut at word boundaries, small enough that the model sees all of it; windows
overlap so that a sentence cut at a boundary is whole in one of them. The text stored with a
chunk is exactly the text embedded.

A chunk's id is a hash of its source, its document and its text: re-chunking an unchanged
document gives the same ids (so re-indexing it changes nothing), and a changed document gives
new ids for the windows that changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from glimpse_assets.providers.minilm import MAX_TOKENS, SPECIAL_TOKENS

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

DEFAULT_OVERLAP = 32  # word pieces shared by consecutive windows
MAX_TITLE_TOKENS = 64  # a longer title is cut, so that every window keeps room for the body
DOCUMENTS_PER_SLICE = 512  # tokenised together


@dataclass(frozen=True)
class SearchDocument:
    """One document to index: a day's article or an ingested document, cleaned."""

    document_id: str
    source: str
    title: str
    text: str
    url: str | None
    published: datetime | None


@dataclass(frozen=True)
class Chunk:
    id: str
    document_id: str
    source: str
    title: str
    url: str | None
    published: datetime | None
    position: int  # 0 for the first window of the document
    tokens: int  # word pieces the model reads, [CLS] and [SEP] included
    text: str  # exactly what is embedded

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


def chunk_id(source: str, document_id: str, text: str) -> str:
    digest = hashlib.sha256("\0".join((source, document_id, text)).encode("utf-8"))
    return digest.hexdigest()[:32]


def _word_starts(tokens: list[str]) -> list[bool]:
    """Whether each word piece begins a word (a `##` piece continues the one before it)."""
    return [not token.startswith("##") for token in tokens]


def _cut_title(
    title: str, encoding: Encoding, tokenizer: Tokenizer, max_tokens: int
) -> tuple[str, int]:
    """The title (its `encoding` without special tokens) cut at a word start within
    `max_tokens` word pieces, and its word pieces."""
    if len(encoding.ids) <= max_tokens:
        return title, len(encoding.ids)
    starts = _word_starts(encoding.tokens)
    end = next((i for i in range(max_tokens, 0, -1) if starts[i]), max_tokens)
    cut = title[: encoding.offsets[end - 1][1]].rstrip()
    return cut, len(tokenizer.encode(cut, add_special_tokens=False).ids)


def _windows(count: int, starts: list[bool], budget: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) word-piece ranges of at most `budget`, cut where a word starts."""
    windows: list[tuple[int, int]] = []
    start = 0
    while start < count:
        end = min(start + budget, count)
        if end < count:
            # Back to the last word start inside the window; a single word longer than the
            # whole window is cut inside it (the only case where a word is split).
            end = next((i for i in range(end, start, -1) if starts[i]), end)
        windows.append((start, end))
        if end >= count:
            break
        following = max(end - overlap, start + 1)
        start = next((i for i in range(following, end) if starts[i]), end)
    return windows


def chunk_document(
    document: SearchDocument,
    tokenizer: Tokenizer,
    max_tokens: int = MAX_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
) -> list[Chunk]:
    """The document's chunks, in order; each is at most `max_tokens` word pieces."""
    return _chunk_slice([document], tokenizer, max_tokens, overlap)[0]


def _chunk_texts(
    document: SearchDocument,
    title_encoding: Encoding,
    body: Encoding,
    tokenizer: Tokenizer,
    max_tokens: int,
    overlap: int,
) -> tuple[str, list[str]]:
    """The document's (cut) title and its chunks' texts: the title, a newline and a window."""
    title, title_tokens = _cut_title(document.title, title_encoding, tokenizer, MAX_TITLE_TOKENS)
    budget = max_tokens - SPECIAL_TOKENS - title_tokens
    if budget <= overlap:
        raise ValueError(f"max_tokens={max_tokens} leaves no room for text after the title")
    pieces = [""]  # a document with only a title is one chunk: the title
    if body.ids:
        starts = _word_starts(body.tokens)
        pieces = [
            document.text[body.offsets[start][0] : body.offsets[end - 1][1]]
            for start, end in _windows(len(body.ids), starts, budget, overlap)
        ]
    return title, [f"{title}\n{piece}" if piece else title for piece in pieces]


def _chunk_slice(
    documents: list[SearchDocument], tokenizer: Tokenizer, max_tokens: int, overlap: int
) -> list[list[Chunk]]:
    """Each document's chunks. The titles, the texts and then the chunks are tokenised in one
    batch each (the tokenizer's encode_batch, on every core), not one call per text."""
    titles = tokenizer.encode_batch([d.title for d in documents], add_special_tokens=False)
    bodies = tokenizer.encode_batch([d.text for d in documents], add_special_tokens=False)
    texts_per_document = [
        _chunk_texts(document, title, body, tokenizer, max_tokens, overlap)
        for document, title, body in zip(documents, titles, bodies, strict=True)
    ]
    every_text = [text for _, texts in texts_per_document for text in texts]
    counts = iter(len(e.ids) for e in tokenizer.encode_batch(every_text))
    chunked = []
    for document, (title, texts) in zip(documents, texts_per_document, strict=True):
        chunks = []
        for position, text in enumerate(texts):
            tokens = next(counts)
            if tokens > max_tokens:  # a word split across a cut may re-tokenise longer: trim it
                text, tokens = _trim_to(text, tokenizer, max_tokens)
            chunks.append(
                Chunk(
                    id=chunk_id(document.source, document.document_id, text),
                    document_id=document.document_id,
                    source=document.source,
                    title=title,
                    url=document.url,
                    published=document.published,
                    position=position,
                    tokens=tokens,
                    text=text,
                )
            )
        chunked.append(chunks)
    return chunked


def _trim_to(text: str, tokenizer: Tokenizer, max_tokens: int) -> tuple[str, int]:
    encoding = tokenizer.encode(text, add_special_tokens=False)
    keep = max_tokens - SPECIAL_TOKENS
    cut = text[: encoding.offsets[keep - 1][1]]
    return cut, len(tokenizer.encode(cut).ids)


def chunk_documents(
    documents: list[SearchDocument],
    tokenizer: Tokenizer,
    max_tokens: int = MAX_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
) -> list[Chunk]:
    """Every document's chunks; a chunk id seen twice (the same document twice) is kept once.
    Tokenised a slice of documents at a time, so the tokenizer's encodings of a big day are
    never all held at once."""
    seen: set[str] = set()
    chunks = []
    for start in range(0, len(documents), DOCUMENTS_PER_SLICE):
        part = documents[start : start + DOCUMENTS_PER_SLICE]
        for document_chunks in _chunk_slice(part, tokenizer, max_tokens, overlap):
            for chunk in document_chunks:
                if chunk.id not in seen:
                    seen.add(chunk.id)
                    chunks.append(chunk)
    return chunks
