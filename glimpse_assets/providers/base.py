"""The provider interfaces every asset talks to; which implementation runs is chosen in
`glimpse_assets.resources` from the settings, never inside an asset."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg


class ProviderOutputError(ValueError):
    """A provider answered, but with output that cannot be used; the message says why."""


@contextmanager
def output_errors_fail(what: str) -> Iterator[None]:
    """A `ProviderOutputError` raised inside becomes a non-retryable `dagster.Failure` naming
    `what` was being made: the same input gives the same unusable output, so a step retry would
    only wait and fail again."""
    try:
        yield
    except ProviderOutputError as error:
        raise dg.Failure(
            description=f"{what} failed the output checks: {error}", allow_retries=False
        ) from error


@dataclass(frozen=True)
class TextResult:
    text: str
    provider: str
    model: str
    method: str  # what produced it, in words a reader of the metadata understands
    usage: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageResult:
    png: bytes
    provider: str
    model: str
    method: str
    usage: dict[str, int] = field(default_factory=dict)
    # The Pillow image `png` was encoded from, when the provider drew it here (offline): a
    # preview is then made without decoding the PNG again.
    pixels: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class TextRequest:
    """What a domain asks of a text provider: its `messages` for a model (with an optional
    `response_format`, e.g. a JSON schema), `shape`, which checks and normalises a model's
    answer (raising `ProviderOutputError`), and `offline`, the finished text without a model,
    with the `offline_model` and `offline_method` the metadata reports for it."""

    messages: list[dict[str, str]]
    shape: Callable[[str], str]
    offline: Callable[[], str]
    offline_model: str
    offline_method: str
    label: str = "the text"  # what is being made, for error messages
    response_format: dict[str, Any] | None = None


class TextProvider(dg.ConfigurableResource, ABC):
    @abstractmethod
    def complete(
        self, context: Any, requests: list[TextRequest], force: bool = False
    ) -> list[TextResult]:
        """One text per request, in the same order: a model's answer to its `messages`, held to
        its `shape`; offline, its `offline` text. `context` may be None (the service answers
        outside any run). `force` asks a caching provider to call again rather than reuse a
        stored answer. The one call a domain makes, with its own prompts, parsing and offline
        fallback (`news/image_prompt.py`, `rides/summary_text.py`, `stories/story_text.py`,
        `sms/answers.py`): a new domain adds nothing here."""


class ImageProvider(dg.ConfigurableResource, ABC):
    size: int = 1024

    @abstractmethod
    def draw(
        self, context: dg.AssetExecutionContext, prompt: str, force: bool = False
    ) -> ImageResult:
        """A square PNG of `size` pixels for the prompt."""
