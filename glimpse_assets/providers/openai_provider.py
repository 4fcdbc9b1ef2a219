"""OpenAI-compatible text and image providers, through dagster-openai's `OpenAIResource`.

`OPENAI_BASE_URL` (the resource's `base_url`) points them at any compatible server: Ollama, vLLM,
a llama.cpp server or a gateway. The SDK itself retries 429s, 5xx and connection errors.
"""

from __future__ import annotations

import base64
import binascii
import io
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import openai
from dagster_openai import OpenAIResource
from PIL import Image, UnidentifiedImageError
from pydantic import Field

from glimpse_assets.providers.base import (
    ImageProvider,
    ImageResult,
    ProviderOutputError,
    RideConditions,
    TextProvider,
    TextResult,
)
from glimpse_assets.providers.prompts import (
    image_prompt_messages,
    shape_paragraph,
    shape_summary,
    summary_messages,
)

LLM_METHOD = "LLM via an OpenAI-compatible Chat Completions API"
IMAGE_MODEL_METHOD = "image model via an OpenAI-compatible Images API"


def _usage_dict(usage: object, fields: tuple[str, ...]) -> dict[str, int]:
    if usage is None:
        return {}
    return {
        name: int(getattr(usage, name)) for name in fields if getattr(usage, name, None) is not None
    }


class ProviderCallError(RuntimeError):
    """The provider refused or failed a call; the message carries its answer."""


def _call_failed(what: str, error: openai.OpenAIError) -> ProviderCallError:
    status = getattr(error, "status_code", None)
    detail = getattr(error, "message", None) or str(error)
    prefix = f"HTTP {status}: " if status else ""
    return ProviderCallError(f"{what} failed: {prefix}{detail}")


_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


class OpenAITextProvider(TextProvider):
    openai: OpenAIResource
    model: str = Field(default="gpt-4o-mini", description="GLIMPSE_TEXT_MODEL")
    max_tokens: int = Field(default=400, description="Upper bound on the answer's tokens.")
    max_concurrency: int = Field(default=8, ge=1, description="Calls in flight at once per step.")

    def summarise_conditions(
        self, context: dg.AssetExecutionContext, conditions: list[RideConditions]
    ) -> list[TextResult]:
        # dagster-openai's usage wrapper updates asset metadata read-modify-write, which is not
        # safe across threads; the op context gives the plain client and we sum usage ourselves.
        with self.openai.get_client(context.op_execution_context) as client:

            def summarise(item: RideConditions) -> TextResult:
                messages = summary_messages(item.city, item.news, item.weather, item.traffic)
                try:
                    response = client.chat.completions.create(
                        model=self.model, messages=messages, max_tokens=self.max_tokens
                    )
                except openai.OpenAIError as error:
                    raise _call_failed(f"chat completion with {self.model}", error) from error
                if not response.choices or not response.choices[0].message.content:
                    raise ProviderOutputError(f"{self.model} returned no text for a summary")
                return TextResult(
                    text=shape_summary(response.choices[0].message.content),
                    provider="openai",
                    model=response.model or self.model,
                    method=LLM_METHOD,
                    usage=_usage_dict(response.usage, _USAGE_FIELDS),
                )

            workers = max(1, min(self.max_concurrency, len(conditions)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                return list(pool.map(summarise, conditions))

    def write_image_prompt(self, context: dg.AssetExecutionContext, digest: dict) -> TextResult:
        with self.openai.get_client(context) as client:
            try:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=image_prompt_messages(digest),
                    max_tokens=self.max_tokens,
                )
            except openai.OpenAIError as error:
                raise _call_failed(f"chat completion with {self.model}", error) from error
        if not response.choices or not response.choices[0].message.content:
            raise ProviderOutputError(f"{self.model} returned no text for the image prompt")
        return TextResult(
            text=shape_paragraph(response.choices[0].message.content),
            provider="openai",
            model=response.model or self.model,
            method=LLM_METHOD,
            usage=_usage_dict(response.usage, _USAGE_FIELDS),
        )


def decode_png(b64_data: str | None, model: str) -> bytes:
    """The PNG bytes of a base64 Images API answer, checked to be a readable image."""
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
    openai: OpenAIResource
    model: str = Field(default="gpt-image-1", description="GLIMPSE_IMAGE_MODEL")

    def draw(self, context: dg.AssetExecutionContext, prompt: str) -> ImageResult:
        request: dict = {
            "model": self.model,
            "prompt": prompt,
            "size": f"{self.size}x{self.size}",
            "n": 1,
        }
        if self.model.startswith("dall-e"):
            request["response_format"] = "b64_json"  # gpt-image models always answer in base64
        with self.openai.get_client(context) as client:
            try:
                response = client.images.generate(**request)
            except openai.OpenAIError as error:
                raise _call_failed(f"image generation with {self.model}", error) from error
        if not response.data:
            raise ProviderOutputError(f"{self.model} returned no image")
        usage = _usage_dict(
            getattr(response, "usage", None), ("input_tokens", "output_tokens", "total_tokens")
        )
        return ImageResult(
            png=decode_png(response.data[0].b64_json, self.model),
            provider="openai",
            model=self.model,
            method=IMAGE_MODEL_METHOD,
            usage={"images": 1, **usage},
        )
