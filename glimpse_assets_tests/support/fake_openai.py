"""A reusable, fault-injecting OpenAI-compatible server on 127.0.0.1, for gateway tests.

`FakeOpenAI` serves the four endpoints the providers use, on a `LocalHTTPServer`:

* POST /v1/chat/completions: a valid one-paragraph answer of 20 to 60 words derived from a
  SHA-256 of the last message (the same request always gets the same answer), with usage; with
  a `json_schema` response_format, a story answer (`story_answer`) as JSON;
* POST /v1/images/generations: the base64 of a real PNG of the requested size, with usage;
* POST /v1/moderations: `{"id", "model", "results": [{"flagged", "categories",
  "category_scores"}]}`, not flagged unless a fault says so;
* POST /v1/embeddings: one float vector per input (`encoding_format` float), a function of the
  text alone, of the requested `dimensions` or else NATIVE_EMBEDDING_DIMENSION, with usage.

Faults: `rate_limited` (429 with Retry-After), `server_error` (5xx), `bad_request` (400 with an
OpenAI error body, optionally echoing the Authorization header), `malformed_json` (200 with a
broken JSON body), `html_page` (200 text/html), `slow` (a reply later than the client's timeout),
`answer` (a chosen chat text), `flagged` (a moderation hit) and `wrong_embeddings` (vectors of
another length, or another number of them).

Faults are scripted per path with `script(path, *faults)` and consumed in order, one per
request, before normal answers resume; `always(path, fault)` makes one fault permanent. The
server counts requests per path, remembers what it answered (bodies and usage) and measures the
most requests it held in flight at once; a small `delay_seconds` inside every handler makes
concurrent calls overlap.

    with FakeOpenAI() as fake:
        fake.script(CHAT, rate_limited("0.1"))
        ... OpenAIClient(api_key=..., base_url=fake.base_url) ...
        assert fake.count(CHAT) == 2
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from PIL import Image, ImageDraw

from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply, Request

CHAT = "/v1/chat/completions"
IMAGES = "/v1/images/generations"
MODERATIONS = "/v1/moderations"
PATHS = (CHAT, IMAGES, MODERATIONS)  # what `snapshot()` counts
EMBEDDINGS = "/v1/embeddings"
ROUTES = (*PATHS, EMBEDDINGS)
NATIVE_EMBEDDING_DIMENSION = 768  # a model's own length, when no `dimensions` is asked for

MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)

_SUBJECTS = (
    "a lighthouse",
    "fishing boats",
    "a market square",
    "paper lanterns",
    "a city tram",
    "kites",
    "a bakery window",
    "an old stone bridge",
    "sunflowers",
    "a river ferry",
    "street musicians",
    "a rooftop garden",
)
_PLACES = (
    "by the harbour",
    "in a quiet valley",
    "under a wide sky",
    "along a sandy shore",
    "beside a calm canal",
    "on a hillside town",
)
_LIGHT = (
    "soft morning light",
    "golden evening light",
    "clear midday sun",
    "gentle blue dusk",
)
_STYLES = (
    "a warm watercolour style",
    "a bright gouache style",
    "a loose ink and wash style",
    "a cheerful flat illustration style",
)
_FILLER = (
    "People smile and wave while gulls circle overhead and flags ripple in a light breeze",
    "Children play near the water while neighbours share bread and fruit from woven baskets",
    "Small details reward a second look, from painted shutters to bicycles leaning on walls",
    "The mood is calm and hopeful, with generous space around every figure in the scene",
)


# -- scripted faults ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour; build them with the functions below."""

    kind: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    message: str = ""
    error_type: str = ""
    seconds: float = 0.0
    content: str = ""
    categories: tuple[str, ...] = ()
    echo_authorization: bool = False
    dimension: int | None = None
    extra_vectors: int = 0


def rate_limited(retry_after: str = "0.1") -> Fault:
    """HTTP 429 with a Retry-After header (seconds, as the header's text)."""
    return Fault(
        "error",
        429,
        {"Retry-After": retry_after},
        "Rate limit reached, try again later.",
        "rate_limit_exceeded",
    )


def server_error(status: int = 500, message: str = "The server had an error.") -> Fault:
    return Fault("error", status, {}, message, "server_error")


def bad_request(
    message: str = "Invalid request.",
    error_type: str = "invalid_request_error",
    echo_authorization: bool = False,
) -> Fault:
    """HTTP 400 with an OpenAI error body; `echo_authorization` appends the request's
    Authorization header to the message, as a careless server or proxy might."""
    return Fault("error", 400, {}, message, error_type, echo_authorization=echo_authorization)


def malformed_json() -> Fault:
    """HTTP 200, `Content-Type: application/json`, and a body that is not JSON."""
    return Fault("malformed")


def html_page() -> Fault:
    """HTTP 200 with an HTML page, as a web UI or proxy answers at a wrong base URL."""
    return Fault("html")


def slow(seconds: float, content: str = "") -> Fault:
    """A normal answer (or `content`) sent only after `seconds`: longer than a client timeout."""
    return Fault("slow", seconds=seconds, content=content)


def answer(content: str) -> Fault:
    """A well-formed chat completion whose text is `content` (for output guardrail tests)."""
    return Fault("answer", content=content)


def flagged(*categories: str) -> Fault:
    """A moderation result flagged in `categories` (default: violence)."""
    return Fault("flagged", categories=categories or ("violence",))


def wrong_embeddings(dimension: int | None = None, extra_vectors: int = 0) -> Fault:
    """A well-formed embeddings answer with vectors of length `dimension` instead of the one
    asked for, and/or `extra_vectors` more (negative: fewer) vectors than inputs."""
    return Fault("embeddings", dimension=dimension, extra_vectors=extra_vectors)


# -- normal answers ----------------------------------------------------------------------


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def chat_answer(messages: list[dict[str, Any]]) -> str:
    """The deterministic answer to a conversation: one paragraph of 20 to 60 words, no URLs,
    markup or quotes, at most three sentences; a function of the last message only."""
    last = str(messages[-1].get("content", "")) if messages else ""
    h = _digest(last)
    first = (
        f"A cheerful scene of {_SUBJECTS[h[0] % len(_SUBJECTS)]} and "
        f"{_SUBJECTS[h[1] % len(_SUBJECTS)]} {_PLACES[h[2] % len(_PLACES)]}, painted in "
        f"{_LIGHT[h[3] % len(_LIGHT)]} with {_STYLES[h[4] % len(_STYLES)]}."
    )
    sentences = [first, _FILLER[h[5] % len(_FILLER)] + "."]
    if h[6] % 2:
        sentences.append(_FILLER[(h[5] + 1 + h[7] % 3) % len(_FILLER)] + ".")
    text = " ".join(sentences)
    assert 20 <= len(text.split()) <= 60, text
    return text


STORY_FILLER = (
    "It was a steady effort from the first minute to the last",
    "The legs felt light and the breathing stayed calm throughout",
    "Every stretch of the route brought something new to notice",
    "Consistency like this is what builds real fitness over time",
    "A good day out that leaves you ready for the next one",
    "The pace felt honest and the finish came with a smile",
)


def story_answer(messages: list[dict[str, Any]]) -> str:
    """The structured answer to a story prompt: `{"title", "story"}` as JSON, quoting only the
    metric lines the prompt gave ("Distance: 8.05 km" -> "Your distance was 8.05 km."), padded
    with plain sentences to 40 to 60 words; a function of the last message only."""
    last = str(messages[-1].get("content", "")) if messages else ""
    h = _digest(last)
    metrics = {}
    for line in last.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key and key[0].isupper() and not key.startswith(("Write", "Answer")):
            metrics[key] = value
    sport = metrics.pop("Sport", "workout")
    metrics.pop("Started", None)
    sentences = [
        f"Your {key.lower()} was {value.split(' (')[0]}." for key, value in metrics.items()
    ]
    title = f"A {sport} worth remembering"
    for n in range(len(STORY_FILLER)):
        if len(" ".join(sentences).split()) >= 45:
            break
        sentences.append(STORY_FILLER[(h[0] + n) % len(STORY_FILLER)] + ".")
    words = " ".join(sentences).split()[:58]
    story = " ".join(words).rstrip(".") + "."
    return json.dumps({"title": title[:60], "story": story})


def chat_usage_for(messages: list[dict[str, Any]], content: str) -> dict[str, int]:
    prompt = math.ceil(sum(len(str(m.get("content", ""))) for m in messages) / 4) + 7
    completion = len(content.split()) + 3
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@cache
def png_bytes(width: int = 1024, height: int = 1024) -> bytes:
    """A real PNG with a few shapes, so decoding it means something."""
    image = Image.new("RGB", (width, height), (250, 222, 140))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 2, height // 2), fill=(40, 100, 190))
    draw.ellipse((width // 3, height // 3, width - 30, height - 30), fill=(210, 60, 70))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def image_usage_for(prompt: str) -> dict[str, int]:
    input_tokens = math.ceil(len(prompt) / 4)
    return {
        "input_tokens": input_tokens,
        "output_tokens": 4160,
        "total_tokens": input_tokens + 4160,
    }


def embedding_vector(text: str, dimension: int) -> list[float]:
    """The fake model's vector for `text`: Gaussian numbers seeded by its SHA-256, not normalised
    (a real model's vectors need not be)."""
    draw = random.Random(_digest(text))
    return [round(draw.gauss(0.0, 1.0), 6) for _ in range(dimension)]


def embedding_inputs(body: dict[str, Any]) -> list[str]:
    texts = body.get("input")
    return [texts] if isinstance(texts, str) else [str(text) for text in texts or []]


def embedding_usage_for(texts: list[str]) -> dict[str, int]:
    tokens = sum(math.ceil(len(text) / 4) + 1 for text in texts)
    return {"prompt_tokens": tokens, "total_tokens": tokens}


# -- the server --------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request the server answered normally (or with a scripted answer)."""

    path: str
    body: dict[str, Any]
    usage: dict[str, int]
    content: str = ""  # the chat answer's text


class FakeOpenAI:
    def __init__(self, delay_seconds: float = 0.02) -> None:
        self.delay_seconds = delay_seconds
        self._lock = threading.Lock()
        self._queues: dict[str, list[Fault]] = {path: [] for path in ROUTES}
        self._always: dict[str, Fault] = {}
        self.counts: Counter[str] = Counter()
        self.exchanges: list[Exchange] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._in_flight_by_path: Counter[str] = Counter()
        self.max_in_flight_by_path: Counter[str] = Counter()
        self.server = LocalHTTPServer(self)

    # -- set-up and reading ---------------------------------------------------------------

    def __enter__(self) -> FakeOpenAI:
        self.server.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.server.__exit__(*exc)

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def script(self, path: str, *faults: Fault) -> FakeOpenAI:
        with self._lock:
            self._queues[path].extend(faults)
        return self

    def always(self, path: str, fault: Fault) -> FakeOpenAI:
        """Answer every request to `path` (after any scripted faults) with `fault`."""
        with self._lock:
            self._always[path] = fault
        return self

    def count(self, path: str) -> int:
        with self._lock:
            return self.counts[path]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {path: self.counts[path] for path in PATHS}

    def requests(self, path: str) -> list[Request]:
        return [request for request in self.server.requests if request.path == path]

    def answered(self, path: str) -> list[Exchange]:
        with self._lock:
            return [exchange for exchange in self.exchanges if exchange.path == path]

    # -- serving -----------------------------------------------------------------------

    def __call__(self, request: Request) -> Reply:
        with self._lock:
            self.counts[request.path] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._in_flight_by_path[request.path] += 1
            self.max_in_flight_by_path[request.path] = max(
                self.max_in_flight_by_path[request.path], self._in_flight_by_path[request.path]
            )
            queue = self._queues.get(request.path)
            fault = queue.pop(0) if queue else self._always.get(request.path)
        try:
            if self.delay_seconds:
                time.sleep(self.delay_seconds)
            return self._reply(request, fault)
        finally:
            with self._lock:
                self.in_flight -= 1
                self._in_flight_by_path[request.path] -= 1

    def _reply(self, request: Request, fault: Fault | None) -> Reply:
        if request.method != "POST" or request.path not in ROUTES:
            return _error(404, f"no route {request.method} {request.path}", "not_found")
        if fault is not None and fault.kind == "error":
            message = fault.message
            if fault.echo_authorization:
                message += f" (received Authorization: {request.headers.get('authorization')})"
            return _error(fault.status, message, fault.error_type, **fault.headers)
        if fault is not None and fault.kind == "malformed":
            return Reply(200, b'{"id": "broken", "choices": [{"message": ', _JSON)
        if fault is not None and fault.kind == "html":
            page = "<!doctype html><html><body><h1>Dashboard</h1></body></html>"
            return Reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        body = request.json()
        if request.path == CHAT:
            return self._chat(body, fault.content if fault is not None else "")
        if request.path == IMAGES:
            return self._images(body)
        if request.path == EMBEDDINGS:
            return self._embeddings(body, fault)
        flags = fault.categories if fault is not None and fault.kind == "flagged" else ()
        return self._moderation(body, flags)

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def _chat(self, body: dict[str, Any], content: str) -> Reply:
        messages = body.get("messages") or []
        structured = (body.get("response_format") or {}).get("type") == "json_schema"
        text = content or (story_answer(messages) if structured else chat_answer(messages))
        usage = chat_usage_for(messages, text)
        self._record(Exchange(CHAT, body, usage, text))
        digest = _digest(json.dumps(body, sort_keys=True)).hex()
        return Reply.json(
            {
                "id": f"chatcmpl-{digest[:24]}",
                "object": "chat.completion",
                "created": 1_772_409_600,
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )

    def _images(self, body: dict[str, Any]) -> Reply:
        width, _, height = str(body.get("size") or "1024x1024").partition("x")
        count = int(body.get("n") or 1)
        usage = image_usage_for(str(body.get("prompt", "")))
        self._record(Exchange(IMAGES, body, usage))
        data = base64.b64encode(png_bytes(int(width), int(height))).decode("ascii")
        return Reply.json(
            {"created": 1_772_409_700, "data": [{"b64_json": data}] * count, "usage": usage}
        )

    def _embeddings(self, body: dict[str, Any], fault: Fault | None) -> Reply:
        texts = embedding_inputs(body)
        dimension = int(body.get("dimensions") or NATIVE_EMBEDDING_DIMENSION)
        answered = list(texts)
        if fault is not None and fault.kind == "embeddings":
            dimension = fault.dimension or dimension
            answered = (texts + texts[:1] * fault.extra_vectors)[: len(texts) + fault.extra_vectors]
        usage = embedding_usage_for(texts)
        self._record(Exchange(EMBEDDINGS, body, usage))
        return Reply.json(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": embedding_vector(t, dimension)}
                    for i, t in enumerate(answered)
                ],
                "model": body.get("model", ""),
                "usage": usage,
            }
        )

    def _moderation(self, body: dict[str, Any], flags: tuple[str, ...]) -> Reply:
        self._record(Exchange(MODERATIONS, body, {}))
        digest = _digest(json.dumps(body, sort_keys=True)).hex()
        return Reply.json(
            {
                "id": f"modr-{digest[:24]}",
                "model": body.get("model", ""),
                "results": [
                    {
                        "flagged": bool(flags),
                        "categories": {name: name in flags for name in MODERATION_CATEGORIES},
                        "category_scores": {
                            name: 0.97 if name in flags else 0.0012
                            for name in MODERATION_CATEGORIES
                        },
                    }
                ],
            }
        )


_JSON = {"Content-Type": "application/json"}


def _error(status: int, message: str, error_type: str, **headers: str) -> Reply:
    return Reply.json(
        {"error": {"message": message, "type": error_type, "param": None, "code": None}},
        status,
        **headers,
    )
