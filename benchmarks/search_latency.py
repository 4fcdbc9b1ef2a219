"""Search through HTTP: `glimpse serve` over an index of N chunks, 16 clients at once and one alone.

Builds a LanceDB table of N rows in the index's own schema whose vectors have structure: around
1,000 centres that are real MiniLM embeddings of generated news sentences, each row a centre plus
noise (so the ANN index's recall means something, and the queries, embedded by the service from
news questions, land among the rows). Starts `glimpse serve` on it as a real process and has 16
threads, each with its own API key (so the per-key rate limit of 100/s is the production one),
send GET /search requests for varied questions; then one client alone. Reports:

- p50/p95/p99 in milliseconds and requests a second, first with every query exact (no ANN index;
  skipped with --skip-exact or a reused --root), then after `search_index`'s own rule has built
  IVF_HNSW_SQ;
- the service's CPU per query: CPU seconds of the service process and its children (uvicorn's
  workers), from /proc, before and after the load, divided by the requests (robust to a machine
  shared with other work, unlike wall-clock); and the load generator's own CPU per query;
- recall@k of what the service's search returns against exact search (the same queries on the
  same table, the vector index bypassed): the ANN's price;
- where a request's CPU goes, measured in this process: embedding the query, the index search,
  building and serialising the response, the framework (the app with a backend that answers at
  once: routing, validation, the API key, the rate limit), and the whole app with the real
  backend, called in-process through ASGI with no HTTP (the rest is uvicorn and the socket).

The last line printed is a JSON result (benchmarks/run.py reads it). `--root DIR` keeps the table
there and reuses it on the next run (no build, no exact load): before/after comparisons in turn.

    python benchmarks/search_latency.py [--rows 100000] [--clients 16] [--requests 40] [--root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from glimpse_assets.providers.minilm import DIMENSION
from glimpse_assets.providers.minilm_embedder import INDEX_TABLE, MiniLMEmbedder, encode
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
PLACES = [
    "the north district",
    "the city centre",
    "the harbour",
    "the university quarter",
    "the old town",
    "the airport",
    "the east side",
    "the river bank",
    "the suburbs",
    "the main station",
]
ANGLES = [
    "Officials said on Monday that {topic} in {place} would last the week.",
    "Residents of {place} complained about the {topic}.",
    "The council met to discuss the {topic} affecting {place}.",
    "Police were called after the {topic} near {place} turned tense.",
    "A report on the {topic} in {place} was published today.",
    "Shops in {place} stayed closed because of the {topic}.",
    "Experts explain what the {topic} means for {place}.",
    "Photos: the {topic} seen from {place}.",
    "Live updates on the {topic} around {place}.",
    "What we know so far about the {topic} in {place}.",
]
QUESTIONS = [
    f"{prefix} {topic}?"
    for topic in TOPICS
    for prefix in ("what happened with the", "latest on the", "why is there a", "when is the")
]
NOISE = 0.5  # the norm of a row's offset from its unit centre: same-centre rows ~0.8 cosine
RECALL_K = 10
RECALL_QUERIES = 100
STAGE_CALLS = 60
KEY = "bench-api-key-{n:02d}-xxxxxxxxxxxxxxxx"


def question(client: int, request: int) -> str:
    """Every question differs: no cache anywhere can answer one for another."""
    return f"{QUESTIONS[(client * 7 + request) % len(QUESTIONS)]} ({client}-{request})"


def centres() -> np.ndarray:
    texts = [
        angle.format(topic=topic, place=place)
        for topic in TOPICS
        for place in PLACES
        for angle in ANGLES
    ]
    return encode(texts, batch_size=32)


def build_table(root: str, rows: int, batch: int = 20_000) -> None:
    import pyarrow as pa

    middles = centres()
    rng = np.random.default_rng(7)
    for start in range(0, rows, batch):
        count = min(batch, rows - start)
        picked = rng.integers(0, len(middles), count)
        noise = rng.standard_normal((count, DIMENSION)).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        vectors = middles[picked] + noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        day = f"2026-01-{start // batch + 1:02d}"
        data = pa.table(
            {
                "id": [f"bench-{start + n}" for n in range(count)],
                "document_id": [f"doc-{(start + n) // 4}" for n in range(count)],
                "source": ["bench"] * count,
                "title": [TOPICS[p // 100].capitalize() for p in picked],
                "url": [None] * count,
                "published": pa.array([None] * count, type=pa.timestamp("us", tz="UTC")),
                "published_day": [day] * count,
                "day": [day] * count,
                "position": pa.array([0] * count, type=pa.int32()),
                "tokens": pa.array([64] * count, type=pa.int32()),
                "text": [
                    f"Chunk {start + n} about the {TOPICS[p // 100]}." for n, p in enumerate(picked)
                ],
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.reshape(-1), type=pa.float32()), DIMENSION
                ),
            },
            schema=schema(DIMENSION),
        )
        upsert_day(root, INDEX_TABLE, data, day, ann_min_rows=rows + 1)  # exact for now


def service_env(root: str, keys: list[str]) -> dict[str, str]:
    return {**os.environ, "GLIMPSE_STORAGE_URI": root, "GLIMPSE_API_KEYS": ",".join(keys)}


def start_service(root: str, keys: list[str], workers: int | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (outlives this function with the process)
    extra = ["--workers", str(workers)] if workers else []
    process = subprocess.Popen(
        [str(BIN / "glimpse"), "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=service_env(root, keys),
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def output() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")

    try:
        wait_until(
            http_ok(f"http://127.0.0.1:{port}/healthz"),
            "glimpse serve",
            process=process,
            log=output,
            timeout=60,
        )
    except BaseException:
        process.kill()
        raise
    return process, f"127.0.0.1:{port}"


def stop_service(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def process_tree(pid: int) -> list[int]:
    """`pid` and every live descendant (uvicorn's workers, and their helpers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(parents.get(current, []))
    return tree


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of `pid` and its descendants, by process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[member] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return seconds


def warm(address: str, keys: list[str]) -> None:
    """Every key's first search (the model loads, the index opens) outside what is measured;
    with several workers, repeated so that each of them has loaded its model."""
    for round_ in range(4):
        for n, key in enumerate(keys):
            connection = http.client.HTTPConnection(address, timeout=60)
            query = urlencode({"q": f"warm up {round_} {n}", "k": 5})
            connection.request("GET", f"/search?{query}", headers={"X-API-Key": key})
            connection.getresponse().read()
            connection.close()


def load(address: str, pid: int, keys: list[str], requests: int) -> dict:
    """`len(keys)` clients at once, each on one keep-alive connection (stdlib http.client: the
    cheapest client, as the load shares the cores with the service)."""
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(keys))

    def client(n: int) -> None:
        connection = http.client.HTTPConnection(address, timeout=60)
        headers = {"X-API-Key": keys[n]}
        mine, codes = [], []
        start.wait()
        for i in range(requests):
            path = "/search?" + urlencode({"q": question(n, i), "k": 5})
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            codes.append(response.status)
        connection.close()
        with lock:
            latencies.extend(mine)
            statuses.extend(codes)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(keys))]
    cpu_before, own_before = cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu_after, own_after = cpu_seconds(pid), time.process_time()
    service_cpu = sum(cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after)
    quantiles = statistics.quantiles(latencies, n=100)
    count = len(latencies)
    return {
        "requests": count,
        "non_200": sum(code != 200 for code in statuses),
        "p50_ms": round(quantiles[49], 1),
        "p95_ms": round(quantiles[94], 1),
        "p99_ms": round(quantiles[98], 1),
        "requests_per_s": round(count / seconds, 1),
        "service_cpu_ms_per_query": round(service_cpu / count * 1000, 2),
        "service_processes": len(cpu_after),
        "client_cpu_ms_per_query": round((own_after - own_before) / count * 1000, 2),
    }


def recall(root: str, queries: int, k: int) -> dict:
    """recall@k of the service's search (ANN, `SearchIndex.search`) against exact search of the
    same table (every vector compared), on the questions the load sends."""
    from glimpse_assets.search.reader import (
        DISTANCE_COLUMN,
        RESULT_COLUMNS,
        as_hit,
        distinct_hits,
        open_search_index,
    )

    index = open_search_index(root, INDEX_TABLE)
    table = connect(root).open_table(INDEX_TABLE)
    embedder = MiniLMEmbedder()
    found = []
    for n in range(queries):
        vector = embedder.embed_query(question(n % 16, n // 16))
        served = [hit["id"] for hit in index.search(vector, k)]
        rows = (
            table.search(vector, vector_column_name="vector")
            .distance_type("cosine")
            .bypass_vector_index()
            .select([*RESULT_COLUMNS, DISTANCE_COLUMN])
            .limit(k * 20)
            .to_list()
        )
        exact = [hit["id"] for hit in distinct_hits([as_hit(row) for row in rows], k)]
        found.append(len(set(served) & set(exact)) / len(exact))
    return {"k": k, "queries": queries, "recall": round(statistics.fmean(found), 4)}


def median_ms(calls: list[float]) -> float:
    return round(statistics.median(calls) * 1000, 2)


class InstantSearch:
    """A backend that answers at once with hits found before: what is left of a request is the
    framework's (routing, validation, the API key and its rate limit, serialising)."""

    def __init__(self, hits: list[dict]):
        self.hits = hits

    def search(self, query, k, since, until) -> list[dict]:
        return self.hits[:k]

    def ingest(self, document, received):
        raise NotImplementedError


def asgi_get(loop: asyncio.AbstractEventLoop, app, key: str, query: str) -> int:
    """GET /search?q=query through `app` in this process (no HTTP, no socket): the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/search",
        "raw_path": b"/search",
        "root_path": "",
        "query_string": urlencode({"q": query, "k": 5}).encode(),
        "headers": [(b"host", b"bench"), (b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    status = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    loop.run_until_complete(app(scope, receive, send))
    return status[0]


def stages(root: str, calls: int) -> dict:
    """Where a request's CPU goes, in this process: medians of `calls` of each stage alone
    (CPU time of the process, lance's threads included: robust to a shared machine), and the
    wall time of the whole app."""
    from glimpse_assets.search.reader import open_search_index
    from glimpse_assets.serve.app import create_app
    from glimpse_assets.serve.search_routes import SearchHit, SearchResults, search_router
    from glimpse_assets.serve.settings import ServeSettings

    key = KEY.format(n=99)
    env = {**service_env(root, [key]), "GLIMPSE_RATE_LIMIT_PER_SECOND": "100000"}
    settings = ServeSettings.from_env(env)
    app = create_app(settings, env=env)
    embedder = MiniLMEmbedder()
    index = open_search_index(root, INDEX_TABLE)
    loop = asyncio.new_event_loop()
    instant = create_app(
        settings,
        env=env,
        routers=[search_router(InstantSearch(index.search(embedder.embed_query("x"), 5)))],
    )

    def serialise(query: str, hits: list[dict]) -> str:
        results = [SearchHit(**hit) for hit in hits]
        return SearchResults(query=query, results=results, index="ready").model_dump_json()

    cpu: dict[str, list[float]] = {
        name: [] for name in ("embed", "search", "serialise", "framework", "app")
    }
    wall: list[float] = []
    for n in range(-3, calls):  # three to warm up
        query = question(50 + n % 16, n)
        timed = time.process_time()
        vector = embedder.embed_query(query)
        embedded = time.process_time()
        hits = index.search(vector, 5)
        searched = time.process_time()
        serialise(query, hits)
        serialised = time.process_time()
        framework = asgi_get(loop, instant, key, query)
        framed = time.process_time()
        started = time.perf_counter()
        whole = asgi_get(loop, app, key, query + " again")
        wall.append(time.perf_counter() - started)
        if (framework, whole) != (200, 200):
            raise RuntimeError(f"the in-process search answered {framework}, {whole}")
        if n >= 0:
            cpu["embed"].append(embedded - timed)
            cpu["search"].append(searched - embedded)
            cpu["serialise"].append(serialised - searched)
            cpu["framework"].append(framed - serialised)
            cpu["app"].append(time.process_time() - framed)
    loop.close()
    result = {f"{name}_cpu_ms": median_ms(values) for name, values in cpu.items()}
    result["app_wall_ms"] = median_ms(wall[3:])
    result["calls"] = calls
    return result


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="per client")
    parser.add_argument("--workers", type=int, help="glimpse serve --workers (its default if not)")
    parser.add_argument("--root", help="keep the table here, and reuse it when it is there")
    parser.add_argument("--skip-exact", action="store_true", help="measure with the ANN only")
    args = parser.parse_args()
    root = args.root or tempfile.mkdtemp(prefix="glimpse-search-bench-")
    keys = [KEY.format(n=n) for n in range(args.clients)]
    reuse = args.root is not None and (Path(root) / "_vector_index").exists()
    result: dict = {"rows": args.rows, "clients": args.clients, "load_before": load_average()}

    if not reuse:
        started = time.perf_counter()
        build_table(root, args.rows)
        result["build_s"] = round(time.perf_counter() - started, 1)
    result["exact"] = None
    if not reuse and not args.skip_exact:
        process, address = start_service(root, keys, args.workers)
        try:
            warm(address, keys)
            result["exact"] = load(address, process.pid, keys, args.requests)
        finally:
            stop_service(process)

    table = connect(root).open_table(INDEX_TABLE)
    started = time.perf_counter()
    result["ann_index"] = maintain_vector_index(table, ann_min_rows=1)
    result["ann_build_s"] = round(time.perf_counter() - started, 1)

    process, address = start_service(root, keys, args.workers)
    try:
        warm(address, keys)
        result["ann"] = load(address, process.pid, keys, args.requests)
        result["ann_one_client"] = load(address, process.pid, keys[:1], args.requests * 4)
    finally:
        stop_service(process)
    result["recall"] = recall(root, RECALL_QUERIES, RECALL_K)
    result["stages"] = stages(root, STAGE_CALLS)
    result["load_after"] = load_average()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
