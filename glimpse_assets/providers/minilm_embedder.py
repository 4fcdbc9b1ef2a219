"""The offline embedder: all-MiniLM-L6-v2 (int8 ONNX, `providers.minilm`) on onnxruntime.

What sentence-transformers does for this model, without PyTorch: WordPiece tokens cut at 256
([CLS] and [SEP] included), the transformer's last hidden state averaged over the real tokens
(the attention mask, not the first token), then scaled to unit length. Texts are sorted by
token count before batching, so a batch pads to a similar length; vectors come back in input
order. onnxruntime, tokenizers and numpy load with the first text embedded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import Field

from glimpse_assets.providers.embeddings import Embedder, EmbeddingResult, l2_normalise
from glimpse_assets.providers.minilm import (
    DIMENSION,
    MAX_TOKENS,
    MODEL_NAME,
    model_file,
    model_revision,
    word_piece_tokenizer,
)

if TYPE_CHECKING:
    import numpy as np
    from onnxruntime import InferenceSession
    from tokenizers import Tokenizer

# Measured on 2 cores, 1,000 news chunks sorted by length (benchmarks/embeddings.py): 4, 8 and
# 16 within 5 % of each other (70-73 texts/s), 32 slower (66): a wider batch pads more.
BATCH_SIZE = 8
# Positions (texts x the widest text's word pieces) a batch may hold: the attention's working
# memory grows with texts x width^2, so long texts go fewer to a batch (4 at 256 word pieces).
# Batches of 8 texts of every width from 12 to 256 word pieces, two at a time: onnxruntime held
# about 560 MiB more after them with 8 at any width, about 200 MiB with this bound (and no memory
# pattern, below).
MAX_BATCH_POSITIONS = 1024
INDEX_TABLE = "minilm_l6_v2_int8_384"
METHOD = (
    "all-MiniLM-L6-v2 on onnxruntime (CPU), int8 weights with fp32 arithmetic, input cut at "
    f"{MAX_TOKENS} word pieces, mean pooling over the attention mask, L2-normalised"
)


def mean_pool_normalise(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """(batch, seq, dim) hidden states -> (batch, dim) unit vectors: the mean of the positions
    whose mask is 1 (padding ignored), then L2-normalised; as sentence-transformers pools."""
    import numpy as np

    mask = np.asarray(attention_mask, dtype=np.float32)[..., None]
    summed = (np.asarray(hidden, dtype=np.float32) * mask).sum(axis=1)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    return l2_normalise(summed / counts, MODEL_NAME)


_session_lock = threading.Lock()
_sessions: dict[int, InferenceSession] = {}


def onnx_session(threads: int = 0) -> InferenceSession:
    """A CPU session per process and thread count, made on first use (sessions are safe to
    share across threads); graph optimisations on, warnings and info off. `threads=0` is
    onnxruntime's default (every core: a step's batches); the service embeds each query on one
    thread (`threads=1`), so that concurrent queries share the cores instead of each starting
    spinning worker threads of its own."""
    session = _sessions.get(threads)
    if session is None:
        with _session_lock:
            session = _sessions.get(threads)
            if session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3  # errors only
                options.intra_op_num_threads = threads
                # Every batch has a shape of its own: a memory pattern planned per shape is
                # never reused, and each one kept held its memory.
                options.enable_mem_pattern = False
                session = ort.InferenceSession(
                    str(model_file()), options, providers=["CPUExecutionProvider"]
                )
                _sessions[threads] = session
    return session


@cache
def model_tokenizer() -> Tokenizer:
    """A copy of the WordPiece tokenizer that truncates at MAX_TOKENS (padding is done per
    batch in `encode`); `word_piece_tokenizer()` itself stays untruncated for counting."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(word_piece_tokenizer().to_str())
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


@dataclass(frozen=True)
class Encoding:
    vectors: np.ndarray  # (len(texts), DIMENSION) float32, input order
    tokens: int  # word pieces fed to the model, [CLS] and [SEP] included
    truncated: int  # texts longer than MAX_TOKENS word pieces, cut to it
    batches: int
    padded_tokens: int  # positions the model ran on, padding included


# Texts tokenised at a time: a tokenizer Encoding holds a text's tokens, offsets and more as
# Python objects (about 17 MB for 1,000 chunks), so only their ids are kept, as numpy arrays.
TOKENISE_SLICE = 1_024


def word_piece_ids(texts: list[str]) -> tuple[list[np.ndarray], int]:
    """Each text's word-piece ids as the model reads them (cut at MAX_TOKENS, [CLS] and [SEP]
    included), and how many texts were cut."""
    import numpy as np

    tokenizer = model_tokenizer()
    token_ids: list[np.ndarray] = []
    truncated = 0
    for start in range(0, len(texts), TOKENISE_SLICE):
        for encoding in tokenizer.encode_batch(list(texts[start : start + TOKENISE_SLICE])):
            token_ids.append(np.array(encoding.ids, dtype=np.int64))
            truncated += bool(encoding.overflowing)
    return token_ids, truncated


def embedding_workers() -> int:
    """Batches run side by side: one per core this process may use."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def batches_by_length(
    order: np.ndarray,
    lengths: np.ndarray,
    batch_size: int,
    max_positions: int = MAX_BATCH_POSITIONS,
) -> list[np.ndarray]:
    """The texts in `order` (shortest first) cut into batches of at most `batch_size` texts and
    at most `max_positions` padded positions (one text alone may exceed it)."""
    import numpy as np

    batches: list[np.ndarray] = []
    start = 0
    for end in range(1, len(order) + 1):
        size = end - start
        widest = lengths[order[end - 1]]
        if size > batch_size or (size > 1 and size * widest > max_positions):
            batches.append(order[start : end - 1])
            start = end - 1
    if start < len(order):
        batches.append(order[start:])
    return [np.asarray(batch) for batch in batches]


def encode_counted(
    texts: list[str], batch_size: int = BATCH_SIZE, threads: int = 1, workers: int = 0
) -> Encoding:
    """`encode`, with what it took. The batches run on `workers` threads (0: one per core), each
    batch on a session of `threads` threads: by default one batch per core at a time on the
    one-thread session, which the service's queries share (one session's memory, not two), and no
    onnxruntime worker threads spinning between operators on a machine other work shares."""
    import numpy as np

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
    if not texts:
        return Encoding(vectors, 0, 0, 0, 0)
    token_ids, truncated = word_piece_ids(texts)
    lengths = np.array([len(ids) for ids in token_ids])
    order = np.argsort(lengths, kind="stable")
    session = onnx_session(threads)

    def run(rows: np.ndarray) -> int:
        """Embeds one batch, padded to its longest text, into its rows of `vectors`."""
        width = int(lengths[rows].max())
        ids = np.zeros((len(rows), width), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for row, index in enumerate(rows):
            ids[row, : lengths[index]] = token_ids[index]
            mask[row, : lengths[index]] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = session.run(["last_hidden_state"], feeds)
        vectors[rows] = mean_pool_normalise(hidden, mask)
        return ids.size

    batches = batches_by_length(order, lengths, batch_size)
    workers = min(workers or embedding_workers(), len(batches))
    if workers == 1:
        padded = sum(map(run, batches))
    else:
        from concurrent.futures import ThreadPoolExecutor

        # onnxruntime lets go of the GIL while it runs: the batches run on every core.
        with ThreadPoolExecutor(workers, thread_name_prefix="minilm") as pool:
            padded = sum(pool.map(run, batches))
    return Encoding(vectors, int(lengths.sum()), truncated, len(batches), padded)


def encode(texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
    """One unit vector per text, in input order; texts beyond MAX_TOKENS are cut, not refused."""
    return encode_counted(texts, batch_size).vectors


class MiniLMEmbedder(Embedder):
    """Offline and deterministic: the model ships in an installed package, nothing is fetched."""

    batch_size: int = Field(default=BATCH_SIZE, ge=1, description="Texts per model call.")

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def index_table(self) -> str:
        return INDEX_TABLE

    def embed_query(self, text: str) -> np.ndarray:
        return encode_counted([text], 1, threads=1).vectors[0]

    def embed(self, context: Any, texts: list[str]) -> EmbeddingResult:
        start = time.perf_counter()
        encoded = encode_counted(list(texts), self.batch_size)
        seconds = time.perf_counter() - start
        return EmbeddingResult(
            vectors=encoded.vectors,
            provider="offline",
            model=MODEL_NAME,
            revision=model_revision(),
            method=METHOD,
            metadata={
                "texts": len(texts),
                "tokens": encoded.tokens,
                "texts_truncated": encoded.truncated,
                "batches": encoded.batches,
                "batch_size": self.batch_size,
                "padding_share": round(1 - encoded.tokens / encoded.padded_tokens, 4)
                if encoded.padded_tokens
                else 0.0,
                "seconds": round(seconds, 3),
            },
        )
