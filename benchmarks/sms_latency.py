"""SMS reply latency through HTTP: signed Twilio webhook posts to a real `glimpse serve`.

A day of the sample news is indexed (the search chain, offline), then `glimpse serve` runs with
`GLIMPSE_SMS=on` as a real process on 127.0.0.1 and gets posts with Twilio's full parameter set,
signed with twilio's `RequestValidator`, each with its own MessageSid, from 20 senders:

1. offline (the extractive answer): 200 questions one after another, then 200 from 4 clients at
   once; p50/p95/max in milliseconds (goal: p95 <= 1 s);
2. with a model that takes 30 s (a local OpenAI-compatible server, `slow(30)`): 12 questions
   from 4 clients at once with the default GLIMPSE_SMS_REPLY_SECONDS=10; every reply's time
   (goal: each <= 10 s) and what it was (the extractive answer, since the model is too slow).

The time is from sending the request to having the whole TwiML answer, measured by the client.
The service is warmed up by 3 posts first (the query embedder loads at start, in the
background). The last line printed is a JSON result.

    python benchmarks/sms_latency.py [--posts 200] [--slow-posts 12]   (from the repository root)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from glimpse_assets_tests.support.fake_openai import CHAT, FakeOpenAI, slow  # noqa: E402
from glimpse_assets_tests.support.serve_process import index_sample_day, serve_process  # noqa: E402
from glimpse_assets_tests.support.twilio_signing import (  # noqa: E402
    ACCOUNT_SID,
    inbound_params,
    signed_headers,
)

TOKEN = "bench-twilio-auth-token-0123456789"
PUBLIC_URL = "https://glimpse.example.org"
KEY = "bench-api-key-0123456789abcdef"
DAY = "2026-03-02"
TOPICS = [
    "honey harvest on the library roof",
    "the rooftop garden at the clinic",
    "the rare blue orchid in the gorge",
    "the tea tasting pavilion",
    "the comet mural at the school",
    "the beekeepers",
    "lime blossom honey",
    "the fountain on the roof",
    "the botanists who abseiled",
    "the tea pickers",
]
PREFIXES = ["what about", "tell me more about", "who is behind", "where is", "when did"]
QUESTIONS = [f"{prefix} {topic}?" for topic in TOPICS for prefix in PREFIXES]


def env_for(root: str, **extra: str) -> dict[str, str]:
    return {
        "GLIMPSE_STORAGE_URI": root,
        "GLIMPSE_API_KEYS": KEY,
        "GLIMPSE_PROVIDER": "offline",
        "GLIMPSE_SMS": "on",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "GLIMPSE_PUBLIC_URL": PUBLIC_URL,
        "GLIMPSE_SMS_RATE_LIMIT_PER_HOUR": "10000",
        **extra,
    }


def timed_post(url: str, n: int) -> tuple[float, str]:
    params = inbound_params(f"+1555{n % 20:07d}", QUESTIONS[n % len(QUESTIONS)])
    headers = signed_headers(TOKEN, PUBLIC_URL + "/sms/inbound", params)
    with httpx.Client(base_url=url, timeout=60) as client:
        start = time.perf_counter()
        response = client.post("/sms/inbound", data=params, headers=headers)
        seconds = time.perf_counter() - start
    response.raise_for_status()
    return seconds, ET.fromstring(response.text).find("Message").text or ""


def run(url: str, count: int, clients: int, offset: int) -> list[tuple[float, str]]:
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(lambda n: timed_post(url, offset + n), range(count)))


def summary(results: list[tuple[float, str]]) -> dict[str, float]:
    ms = sorted(seconds * 1000 for seconds, _ in results)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--slow-posts", type=int, default=12)
    args = parser.parse_args()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="glimpse-sms-bench-") as folder:
        root = str(Path(folder) / "storage")
        index_sample_day(root, DAY)

        with serve_process(env_for(root)) as service:
            run(service.url, 3, 1, 10_000)
            result["offline_sequential"] = summary(run(service.url, args.posts, 1, 0))
            result["offline_4_clients"] = summary(run(service.url, args.posts, 4, args.posts))
        for name in ("offline_sequential", "offline_4_clients"):
            print(f"{name}: {result[name]}")

        with FakeOpenAI() as fake:
            extra = {"OPENAI_API_KEY": "sk-bench-0123456789", "OPENAI_BASE_URL": fake.base_url}
            with serve_process(env_for(root, GLIMPSE_PROVIDER="openai", **extra)) as service:
                run(service.url, 3, 1, 20_000)  # a normal model while warming up
                fake.always(CHAT, slow(30))
                slow_results = run(service.url, args.slow_posts, 4, 30_000)
                model_calls = fake.count(CHAT) - 3
        sample = next(text for _, text in slow_results)
        result["model_30s_4_clients"] = {
            **summary(slow_results),
            "every_reply_ms": [round(seconds * 1000) for seconds, _ in slow_results],
            "model_requests_sent": model_calls,
            # FakeOpenAI's answers begin so; an extractive reply quotes an article.
            "replies_from_the_model": sum(
                text.startswith("A cheerful") for _, text in slow_results
            ),
        }
        print(f"model_30s_4_clients: {result['model_30s_4_clients']}")
        print(f"example reply (model too slow): {sample}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
