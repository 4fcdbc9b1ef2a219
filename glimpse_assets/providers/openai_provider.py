"""OpenAI-compatible text, image and moderation calls, made through `llm.gateway.LLMCalls`.

`OpenAIClient` holds the client settings (`OPENAI_API_KEY` via EnvVar, `OPENAI_BASE_URL` for
any compatible server: Ollama, vLLM, a llama.cpp server, a gateway).
Every request goes through the gateway: cached, budgeted, bounded, retried and accounted for.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from glimpse_assets.llm.gateway import CallSpec, LLMCalls
from glimpse_assets.providers.base import (
    ImageProvider,
    ImageResult,
    ProviderOutputError,
    TextProvider,
    TextRequest,
    TextResult,
)
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.ranges import add_day_metadata
from glimpse_assets.settings import ProviderSettings, setting

LLM_METHOD = "LLM via an OpenAI-compatible Chat Completions API"
IMAGE_MODEL_METHOD = "image model via an OpenAI-compatible Images API"
CHAT_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
IMAGE_USAGE_FIELDS = ("input_tokens", "output_tokens", "total_tokens")


def _counts(usage: dict[str, Any] | None, fields: tuple[str, ...]) -> dict[str, int]:
    usage = usage or {}
    return {name: int(usage[name]) for name in fields if isinstance(usage.get(name), int)}


def chat_usage(response: dict[str, Any]) -> dict[str, int]:
    return _counts(response.get("usage"), CHAT_USAGE_FIELDS)


def image_usage(response: dict[str, Any]) -> dict[str, int]:
    return {
        "images": len(response.get("data") or []),
        **_counts(response.get("usage"), IMAGE_USAGE_FIELDS),
    }


def chat_text(response: dict[str, Any], model: str) -> str:
    choices = response.get("choices") or []
    text = (choices[0].get("message") or {}).get("content") if choices else None
    if not text:
        raise ProviderOutputError(f"{model} returned no text")
    return text


def estimated_prompt_tokens(messages: list[dict[str, str]]) -> int:
    """About four characters a token, rounded up: a budget estimate, not a tokenizer."""
    return math.ceil(sum(len(m["content"]) + 8 for m in messages) / 4)


@dataclass(frozen=True)
class ModerationResult:
    flagged: bool
    categories: list[str]
    model: str


class OpenAITextProvider(TextProvider):
    openai: OpenAIClient
    calls: LLMCalls
    model: str = setting(ProviderSettings, "text_model")
    max_tokens: int = Field(default=400, description="Upper bound on an answer's tokens.")
    moderation_model: str = Field(default="omni-moderation-latest")

    def _chat(
        self,
        context: Any,
        conversations: list[list[dict[str, str]]],
        shape: Callable[[str], str],
        force: bool,
        response_format: dict[str, Any] | None = None,
    ) -> list[TextResult]:
        """`shape` checks and normalises an answer's text (raising `ProviderOutputError`);
        `response_format` asks for structured output (a JSON schema)."""
        prices = self.calls.prices()

        def estimate(messages):
            return prices.chat_cost(self.model, estimated_prompt_tokens(messages), self.max_tokens)

        extra = {"response_format": response_format} if response_format else {}
        specs = [
            CallSpec(
                "chat",
                self.model,
                {
                    "model": self.model,
                    "messages": messages,
                    "max_tokens": self.max_tokens,
                    **extra,
                },
                estimate(messages),
            )
            for messages in conversations
        ]

        def parse(spec: CallSpec, response: dict[str, Any]) -> TextResult:
            return TextResult(
                text=shape(chat_text(response, spec.model)),
                provider="openai",
                model=response.get("model") or spec.model,
                method=LLM_METHOD,
                usage=chat_usage(response),
            )

        def cost(spec: CallSpec, response: dict[str, Any]) -> float | None:
            usage = chat_usage(response)
            return prices.chat_cost(
                spec.model, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
            )

        with self.openai.get_client() as client:
            results, stats = self.calls.run(
                context, client, specs, parse, cost, chat_usage, [self.openai.api_key], force
            )
        if isinstance(context, dg.AssetExecutionContext):
            add_day_metadata(context, stats.metadata())
        return results

    def complete(
        self, context: Any, requests: list[TextRequest], force: bool = False
    ) -> list[TextResult]:
        if not requests:
            return []
        first = requests[0]
        if all(
            r.shape is first.shape and r.response_format == first.response_format for r in requests
        ):  # one batch: the calls run side by side through the gateway
            conversations = [request.messages for request in requests]
            return self._chat(context, conversations, first.shape, force, first.response_format)
        return [
            self._chat(context, [r.messages], r.shape, force, r.response_format)[0]
            for r in requests
        ]

    def moderate(self, context: Any, text: str) -> tuple[ModerationResult, dict[str, Any]]:
        """The moderation endpoint's verdict on text meant for publication, and call metadata."""
        prices = self.calls.prices()
        spec = CallSpec(
            "moderations",
            self.moderation_model,
            {"model": self.moderation_model, "input": text},
            prices.moderation_cost(self.moderation_model),
        )

        def parse(spec: CallSpec, response: dict[str, Any]) -> ModerationResult:
            results = response.get("results") or []
            if not results:
                raise ProviderOutputError(f"{spec.model} returned no moderation result")
            categories = results[0].get("categories") or {}
            return ModerationResult(
                flagged=bool(results[0].get("flagged")),
                categories=sorted(name for name, hit in categories.items() if hit),
                model=response.get("model") or spec.model,
            )

        with self.openai.get_client() as client:
            (result,), stats = self.calls.run(
                context,
                client,
                [spec],
                parse,
                lambda spec, _: prices.moderation_cost(spec.model),
                lambda _: {},
                [self.openai.api_key],
            )
        return result, stats.metadata()


def decode_png(b64_data: str | None, model: str) -> bytes:
    """The PNG bytes of a base64 Images API answer, checked to be a readable image."""
    from PIL import Image, UnidentifiedImageError

    if not b64_data:
        raise ProviderOutputError(f"{model} returned no b64_json image data")
    try:
        raw = base64.b64decode(b64_data, validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            if image.format == "PNG":
                return raw
            converted = io.BytesIO()
            image.save(converted, format="PNG")
            return converted.getvalue()
    except (binascii.Error, UnidentifiedImageError, OSError) as error:
        raise ProviderOutputError(
            f"{model} returned image data that is not an image: {error}"
        ) from error


class OpenAIImageProvider(ImageProvider):
    openai: OpenAIClient
    calls: LLMCalls
    model: str = setting(ProviderSettings, "image_model")

    def draw(
        self, context: dg.AssetExecutionContext, prompt: str, force: bool = False
    ) -> ImageResult:
        size = f"{self.size}x{self.size}"
        request: dict[str, Any] = {"model": self.model, "prompt": prompt, "size": size, "n": 1}
        if self.model.startswith("dall-e"):
            request["response_format"] = "b64_json"  # gpt-image models always answer in base64
        prices = self.calls.prices()
        spec = CallSpec("images", self.model, request, prices.image_cost(self.model, size, 1))

        def parse(spec: CallSpec, response: dict[str, Any]) -> ImageResult:
            data = response.get("data") or []
            if not data:
                raise ProviderOutputError(f"{spec.model} returned no image")
            return ImageResult(
                png=decode_png(data[0].get("b64_json"), spec.model),
                provider="openai",
                model=spec.model,
                method=IMAGE_MODEL_METHOD,
                usage=image_usage(response),
            )

        def cost(spec: CallSpec, response: dict[str, Any]) -> float | None:
            return prices.image_cost(spec.model, size, image_usage(response)["images"])

        with self.openai.get_client() as client:
            (result,), stats = self.calls.run(
                context, client, [spec], parse, cost, image_usage, [self.openai.api_key], force
            )
        if isinstance(context, dg.AssetExecutionContext):
            add_day_metadata(context, stats.metadata())
        return result
