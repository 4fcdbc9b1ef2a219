"""The provider interfaces every asset talks to; which implementation runs is chosen in
`glimpse_assets.resources` from the settings, never inside an asset."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
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


@dataclass(frozen=True)
class RideConditions:
    """What a block of rides went through: one provider call summarises one of these."""

    city: str
    news: str
    weather: str
    traffic: str


class TextProvider(dg.ConfigurableResource, ABC):
    @abstractmethod
    def write_image_prompt(
        self, context: dg.AssetExecutionContext, digest: dict, force: bool = False
    ) -> TextResult:
        """A one-paragraph image prompt (see `prompts.shape_paragraph`) for the day's digest.
        `force` asks a caching provider to call again rather than reuse a stored answer."""

    @abstractmethod
    def summarise_conditions(
        self,
        context: dg.AssetExecutionContext,
        conditions: list[RideConditions],
        force: bool = False,
    ) -> list[TextResult]:
        """One summary of at most three sentences per item, in the same order."""

    @abstractmethod
    def write_activity_stories(
        self,
        context: dg.AssetExecutionContext,
        activities: list[dict[str, Any]],
        force: bool = False,
    ) -> list[TextResult]:
        """A title and a story per activity (a row of `strava_activities` as a dict), in the
        same order: each result's text is the JSON object `{"title": ..., "story": ...}`,
        already held to `stories.story_text.parse_story`'s rules."""

    @abstractmethod
    def answer_question(
        self,
        context: Any,
        question: str,
        chunks: list[dict[str, Any]],
        history: list[tuple[str, str]],
        force: bool = False,
    ) -> TextResult:
        """An SMS reply to `question` from the search hits `chunks` (best first: `title`,
        `published`, `text`), after the earlier `(question, reply)` exchanges `history`: at most
        `sms.answers.MAX_REPLY_CHARS` characters, citing the article's title and day.
        `context` may be None (the service answers outside any run)."""


class ImageProvider(dg.ConfigurableResource, ABC):
    size: int = 1024

    @abstractmethod
    def draw(
        self, context: dg.AssetExecutionContext, prompt: str, force: bool = False
    ) -> ImageResult:
        """A square PNG of `size` pixels for the prompt."""
