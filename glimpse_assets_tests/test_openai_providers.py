"""The OpenAI-compatible providers, run for real through Dagster against a local fake of the API.

A `LocalHTTPServer` on 127.0.0.1 speaks the Chat Completions and Images JSON; the real `openai`
SDK (inside `OpenAIClient`) talks to it. Tests assert on what was sent, what
was stored and how failures surface in the run.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable

import dagster as dg
import pytest
from PIL import Image, ImageDraw

from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.news.assets import image_prompt, news_digest, news_image, raw_news
from glimpse_assets.news.sources import SampleNewsSource
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_provider import OpenAIImageProvider, OpenAITextProvider
from glimpse_assets_tests.support.failures import failure_classes, failure_text
from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply, Request

PARTITION = "2026-03-02"
API_KEY = "sk-test-secret"
TEXT_MODEL = "test-text-model"
IMAGE_MODEL = "test-image-model"
CHAT_PATH = "/v1/chat/completions"
IMAGES_PATH = "/v1/images/generations"

CHAT_USAGE = {"prompt_tokens": 321, "completion_tokens": 67, "total_tokens": 388}
IMAGE_USAGE = {"input_tokens": 55, "output_tokens": 4160, "total_tokens": 4215}

# 50 words over three lines, wrapped in quotes, as a chatty model might answer.
PROMPT_LINES = [
    "A sunny harbour town at dawn where fishing boats with red and yellow sails glide",
    "past a lighthouse, children fly kites shaped like whales along the pier, gulls circle",
    "above stalls of oranges and lemons, soft golden light, pastel colours, gentle watercolour",
    "style, calm sea, cheerful mood, no text anywhere.",
]
MODEL_ANSWER = '"' + "\n".join(PROMPT_LINES) + '"'
SHAPED_PROMPT = " ".join(" ".join(PROMPT_LINES).split())
assert len(SHAPED_PROMPT.split()) == 50


# -- the fake OpenAI API -------------------------------------------------------------------


def make_png(size: int = 1024) -> bytes:
    """A real PNG with distinct regions, so comparing pixels means something."""
    image = Image.new("RGB", (size, size), (250, 220, 120))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size // 2, size // 2), fill=(30, 90, 200))
    draw.ellipse((size // 3, size // 3, size - 40, size - 40), fill=(220, 40, 60))
    draw.line((0, size - 1, size - 1, 0), fill=(10, 10, 10), width=9)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


SERVED_PNG = make_png()


def chat_reply(request: Request, content: str = MODEL_ANSWER) -> Reply:
    return Reply.json(
        {
            "id": "chatcmpl-test-1",
            "object": "chat.completion",
            "created": 1_772_409_600,
            "model": request.json()["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": CHAT_USAGE,
        }
    )


def image_reply(b64_json: str) -> Reply:
    return Reply.json(
        {"created": 1_772_409_700, "data": [{"b64_json": b64_json}], "usage": IMAGE_USAGE}
    )


def error_reply(status: int, message: str, kind: str) -> Reply:
    return Reply.json({"error": {"message": message, "type": kind}}, status=status)


Responder = Callable[[Request], Reply]


class FakeOpenAI:
    """Routes by path. Each route answers from its queue of responders; the last one repeats."""

    def __init__(
        self,
        chat: list[Responder] | None = None,
        images: list[Responder] | None = None,
    ) -> None:
        self.routes = {
            CHAT_PATH: list(chat or [chat_reply]),
            IMAGES_PATH: list(
                images or [lambda _: image_reply(base64.b64encode(SERVED_PNG).decode())]
            ),
        }

    def __call__(self, request: Request) -> Reply:
        queue = self.routes.get(request.path)
        if queue is None:
            return error_reply(404, f"no route {request.path}", "not_found")
        responder = queue.pop(0) if len(queue) > 1 else queue[0]
        return responder(request)


def requests_to(server: LocalHTTPServer, path: str) -> list[Request]:
    return [request for request in server.requests if request.path == path]


def materialize_news(
    server: LocalHTTPServer,
    io_manager,
    text_model: str = TEXT_MODEL,
    image_model: str = IMAGE_MODEL,
) -> dg.ExecuteInProcessResult:
    openai = OpenAIClient(api_key=API_KEY, base_url=server.url + "/v1")
    # The response cache sits on the IO manager's object store (the same instance).
    calls = LLMCalls(object_store=io_manager.object_store)
    return dg.materialize(
        [raw_news, news_digest, image_prompt, news_image],
        resources={
            "io_manager": io_manager,
            "object_store": io_manager.object_store,
            "llm": calls,
            "news_source": SampleNewsSource(),
            "text_provider": OpenAITextProvider(openai=openai, calls=calls, model=text_model),
            "image_provider": OpenAIImageProvider(openai=openai, calls=calls, model=image_model),
        },
        partition_key=PARTITION,
        raise_on_error=False,
    )


def metadata_values(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


# -- a successful run ----------------------------------------------------------------------


def test_chat_request_carries_model_key_and_fenced_digest(local_io_manager, storage_root):
    with LocalHTTPServer(FakeOpenAI()) as server:
        result = materialize_news(server, local_io_manager)

    assert result.success
    (chat,) = requests_to(server, CHAT_PATH)
    assert chat.method == "POST"
    assert chat.headers["authorization"] == f"Bearer {API_KEY}"
    body = chat.json()
    assert body["model"] == TEXT_MODEL
    assert [message["role"] for message in body["messages"]] == ["system", "user"]
    digest = json.loads((storage_root / "news_digest" / f"{PARTITION}.json").read_text())
    user = body["messages"][1]["content"]
    assert f"<news>\n{digest['text']}\n</news>" in user
    assert PARTITION in user


def test_stored_image_prompt_is_the_shaped_answer_with_provider_and_usage(
    local_io_manager, storage_root
):
    with LocalHTTPServer(FakeOpenAI()) as server:
        result = materialize_news(server, local_io_manager)

    assert result.success
    stored = json.loads((storage_root / "image_prompt" / f"{PARTITION}.json").read_text())
    assert stored["text"] == SHAPED_PROMPT
    assert "\n" not in stored["text"]
    assert '"' not in stored["text"]
    assert stored["provider"] == "openai"
    assert stored["model"] == TEXT_MODEL
    assert stored["usage"] == CHAT_USAGE
    assert stored["day"] == PARTITION

    metadata = metadata_values(result, "image_prompt")
    assert metadata["words"] == 50
    assert metadata["provider"] == "openai"
    assert metadata["usage_total_tokens"] == CHAT_USAGE["total_tokens"]


def test_images_request_uses_the_stored_prompt_and_the_stored_png_matches(
    local_io_manager, storage_root
):
    with LocalHTTPServer(FakeOpenAI()) as server:
        result = materialize_news(server, local_io_manager)

    assert result.success
    (images,) = requests_to(server, IMAGES_PATH)
    assert images.headers["authorization"] == f"Bearer {API_KEY}"
    body = images.json()
    stored_prompt = json.loads((storage_root / "image_prompt" / f"{PARTITION}.json").read_text())
    assert body["model"] == IMAGE_MODEL
    assert body["prompt"] == stored_prompt["text"]
    assert body["size"] == "1024x1024"
    assert body["n"] == 1
    assert "response_format" not in body

    with Image.open(storage_root / "news_image" / f"{PARTITION}.png") as stored:
        assert stored.format == "PNG"
        assert stored.size == (1024, 1024)
        stored_pixels = stored.convert("RGB").tobytes()
    with Image.open(io.BytesIO(SERVED_PNG)) as served:
        assert stored_pixels == served.convert("RGB").tobytes()


def test_news_image_metadata_counts_the_image_and_its_tokens(local_io_manager):
    with LocalHTTPServer(FakeOpenAI()) as server:
        result = materialize_news(server, local_io_manager)

    metadata = metadata_values(result, "news_image")
    assert metadata["usage_images"] == 1
    assert metadata["usage_input_tokens"] == IMAGE_USAGE["input_tokens"]
    assert metadata["usage_output_tokens"] == IMAGE_USAGE["output_tokens"]
    assert metadata["usage_total_tokens"] == IMAGE_USAGE["total_tokens"]
    assert metadata["provider"] == "openai"
    assert metadata["model"] == IMAGE_MODEL
    assert (metadata["width"], metadata["height"]) == (1024, 1024)


@pytest.mark.parametrize(
    ("image_model", "asks_for_b64"),
    [("dall-e-3", True), ("dall-e-2", True), ("gpt-image-1", False), ("gpt-image-1-mini", False)],
)
def test_response_format_is_sent_only_to_dall_e_models(local_io_manager, image_model, asks_for_b64):
    with LocalHTTPServer(FakeOpenAI()) as server:
        result = materialize_news(server, local_io_manager, image_model=image_model)

    assert result.success
    (images,) = requests_to(server, IMAGES_PATH)
    body = images.json()
    assert body["model"] == image_model
    if asks_for_b64:
        assert body["response_format"] == "b64_json"
    else:
        assert "response_format" not in body


def test_a_jpeg_answer_is_stored_as_png(local_io_manager, storage_root):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(SERVED_PNG)).convert("RGB").save(buffer, format="JPEG")
    jpeg_b64 = base64.b64encode(buffer.getvalue()).decode()
    with LocalHTTPServer(FakeOpenAI(images=[lambda _: image_reply(jpeg_b64)])) as server:
        result = materialize_news(server, local_io_manager)

    assert result.success
    with Image.open(storage_root / "news_image" / f"{PARTITION}.png") as stored:
        assert (stored.format, stored.size) == ("PNG", (1024, 1024))


def test_a_server_error_is_retried_by_the_sdk_then_succeeds(local_io_manager, storage_root):
    flaky_chat = [lambda _: error_reply(500, "overloaded", "server_error"), chat_reply]
    with LocalHTTPServer(FakeOpenAI(chat=flaky_chat)) as server:
        result = materialize_news(server, local_io_manager)

    assert result.success
    assert len(requests_to(server, CHAT_PATH)) == 2
    stored = json.loads((storage_root / "image_prompt" / f"{PARTITION}.json").read_text())
    assert stored["text"] == SHAPED_PROMPT


# -- failures ------------------------------------------------------------------------------


def test_a_too_short_answer_fails_the_run_and_stores_no_prompt(local_io_manager, storage_root):
    short = [lambda request: chat_reply(request, "A cat on a boat.")]
    with LocalHTTPServer(FakeOpenAI(chat=short)) as server:
        result = materialize_news(server, local_io_manager)

    assert not result.success
    classes = failure_classes(result, "image_prompt")
    message = failure_text(result, "image_prompt")
    assert "ProviderOutputError" in classes
    assert "5 words" in message
    assert "at least 20" in message
    assert not (storage_root / "image_prompt" / f"{PARTITION}.json").exists()
    assert not (storage_root / "news_image").exists()
    assert requests_to(server, IMAGES_PATH) == []


def test_an_empty_answer_fails_with_no_text(local_io_manager, storage_root):
    empty = [lambda request: chat_reply(request, "")]
    with LocalHTTPServer(FakeOpenAI(chat=empty)) as server:
        result = materialize_news(server, local_io_manager)

    assert not result.success
    classes = failure_classes(result, "image_prompt")
    message = failure_text(result, "image_prompt")
    assert "ProviderOutputError" in classes
    assert "returned no text" in message
    assert not (storage_root / "image_prompt").exists()


def test_a_400_fails_once_with_the_servers_message(local_io_manager, storage_root):
    bad = [lambda _: error_reply(400, "bad model", "invalid_request_error")]
    with LocalHTTPServer(FakeOpenAI(chat=bad)) as server:
        result = materialize_news(server, local_io_manager)

    assert not result.success
    classes = failure_classes(result, "image_prompt")
    message = failure_text(result, "image_prompt")
    assert "Failure" in classes  # a Failure that bypasses Dagster's retry policy
    assert "HTTP 400" in message
    assert "bad model" in message
    assert TEXT_MODEL in message
    assert len(server.requests) == 1  # not retried, and nothing downstream called
    assert not (storage_root / "image_prompt").exists()


def test_an_image_400_fails_news_image_with_the_servers_message(local_io_manager, storage_root):
    bad = [lambda _: error_reply(400, "size not supported", "invalid_request_error")]
    with LocalHTTPServer(FakeOpenAI(images=bad)) as server:
        result = materialize_news(server, local_io_manager)

    assert not result.success
    classes = failure_classes(result, "news_image")
    message = failure_text(result, "news_image")
    assert "Failure" in classes
    assert "HTTP 400" in message
    assert "size not supported" in message
    assert len(requests_to(server, IMAGES_PATH)) == 1
    assert (storage_root / "image_prompt" / f"{PARTITION}.json").exists()
    assert not (storage_root / "news_image").exists()


@pytest.mark.parametrize(
    "b64_json",
    [
        pytest.param(base64.b64encode(b"plain text, not pixels").decode(), id="not-image-bytes"),
        pytest.param("%%% not base64 %%%", id="not-base64"),
    ],
)
def test_image_data_that_is_not_an_image_fails(local_io_manager, storage_root, b64_json):
    with LocalHTTPServer(FakeOpenAI(images=[lambda _: image_reply(b64_json)])) as server:
        result = materialize_news(server, local_io_manager)

    assert not result.success
    classes = failure_classes(result, "news_image")
    message = failure_text(result, "news_image")
    assert "ProviderOutputError" in classes
    assert "not an image" in message
    assert IMAGE_MODEL in message
    assert not (storage_root / "news_image").exists()
