"""Search latency through HTTP: `glimpse serve` over an index of N chunks, 16 clients at once.

Builds a LanceDB table of N rows in the index's own schema (random unit vectors: the latency of
a search does not depend on what the vectors mean; the query is embedded for real by the
service), starts `glimpse serve` on it as a real process, and has 16 threads, each with its own
API key (so the per-key rate limit of 100/s is the production one), send GET /search requests
for varied questions. Reports p50/p95/p99 in milliseconds, first with every query exact (no ANN
index), then after `search_index`'s own rule has built IVF_HNSW_SQ. The last line printed is a
JSON result (benchmarks/run.py reads it).

    python benchmarks/search_latency.py [--rows 100000] [--clients 16] [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from glimpse_assets.providers.minilm import DIMENSION
from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder
from glimpse_assets.search.index import connect, maintain_vector_index, schema, upsert_day

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from glimpse_assets_tests.support.net import free_port, http_ok, wait_until

BIN = Path(sys.executable).parent
TOPICS = [
    "rail strike",
    "harbour bridge repairs",
    "city budget vote",
    "heat wave",
    "school opening hours",
    "new tram line",
    "flooding in the old town",
    "football final",
    "museum reopening",
    "power cut",
]
QUESTIONS = [
    f"{prefix} {topic}?"
    for topic in TOPICS
    for prefix in ("what happened with the", "latest on the", "why is there a", "when is the")
]


def build_table(root: str, rows: int, batch: int = 20_000) -> str:
    import pyarrow as pa

    table_name = MiniLMEmbedder().index_table
    rng = np.random.default_rng(7)
    for start in range(0, rows, batch):
        count = min(batch, rows - start)
        vectors = rng.standard_normal((count, DIMENSION)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        day = f"2026-01-{start // batch + 1:02d}"
        ids = [f"bench-{start + n}" for n in range(count)]
        data = pa.table(
            {
                "id": ids,
                "document_id": [f"doc-{(start + n) // 4}" for n in range(count)],
                "source": ["bench"] * count,
                "title": [TOPICS[n % len(TOPICS)].capitalize() for n in range(count)],
                "url": [None] * count,
                "published": pa.array([None] * count, type=pa.timestamp("us", tz="UTC")),
                "published_day": [day] * count,
                "day": [day] * count,
                "position": pa.array([0] * count, type=pa.int32()),
                "tokens": pa.array([64] * count, type=pa.int32()),
                "text": [
                    f"Chunk {start + n} about the {TOPICS[n % len(TOPICS)]}." for n in range(count)
                ],
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.reshape(-1), type=pa.float32()), DIMENSION
                ),
            },
            schema=schema(DIMENSION),
        )
        upsert_day(root, table_name, data, day, ann_min_rows=rows + 1)  # exact for now
    return table_name


def start_service(root: str, keys: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GLIMPSE_STORAGE_URI": root, "GLIMPSE_API_KEYS": ",".join(keys)}
    log = tempfile.TemporaryFile()  # noqa: SIM115 (outlives this function with the process)
    process = subprocess.Popen(
        [str(BIN / "glimpse"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")

    try:
        wait_until(
            http_ok(f"{url}/healthz"), "glimpse serve", process=process, log=output, timeout=30
        )
    except BaseException:
        process.kill()
        raise
    return process, url


def load(url: str, keys: list[str], requests: int) -> dict:
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": keys[n]}, timeout=30) as http:
            http.get("/search", params={"q": "warm up", "k": 5})
            mine, codes = [], []
            for i in range(requests):
                # Every question differs: no cache anywhere can answer one for another.
                question = f"{QUESTIONS[(n * 7 + i) % len(QUESTIONS)]} ({n}-{i})"
                started = time.perf_counter()
                response = http.get("/search", params={"q": question, "k": 5})
                mine.append((time.perf_counter() - started) * 1000)
                codes.append(response.status_code)
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(keys))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "non_200": sum(code != 200 for code in statuses),
        "p50_ms": round(quantiles[49], 1),
        "p95_ms": round(quantiles[94], 1),
        "p99_ms": round(quantiles[98], 1),
        "requests_per_s": round(len(latencies) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--skip-exact", action="store_true", help="measure with the ANN only")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="glimpse-search-bench-")
    keys = [f"bench-api-key-{n:02d}-{'x' * 16}" for n in range(args.clients)]

    started = time.perf_counter()
    table_name = build_table(root, args.rows)
    build_seconds = time.perf_counter() - started
    result: dict = {"rows": args.rows, "clients": args.clients, "build_s": round(build_seconds, 1)}

    process, url = start_service(root, keys)
    try:
        result["exact"] = load(url, keys, args.requests) if not args.skip_exact else None
    finally:
        process.terminate()
        process.wait(timeout=30)

    table = connect(root).open_table(table_name)
    started = time.perf_counter()
    result["ann_index"] = maintain_vector_index(table, ann_min_rows=1)
    result["ann_build_s"] = round(time.perf_counter() - started, 1)

    process, url = start_service(root, keys)
    try:
        result["ann"] = load(url, keys, args.requests)
        result["ann_one_client"] = load(url, keys[:1], args.requests * 4)
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
