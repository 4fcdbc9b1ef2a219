"""Settings from the environment: one typed, validated object per domain, read in one way.

A domain declares a `Settings` subclass whose fields are aliased to their environment variables
(`Field(default, alias="GLIMPSE_NEWS_SOURCE")`). `Settings.from_env(env)` reads exactly those
variables (empty means unset), validates them with pydantic and, on a bad value, raises a
`ConfigurationError` whose one line names the variable, the value and what is allowed.

Secrets are never settings: resources read them at run time through `dg.EnvVar`, so their values
are not copied into the definitions, and a missing one fails only the steps that need it.
Plain pydantic models rather than pydantic-settings: pydantic is already loaded with Dagster, and
reading a given mapping (not only `os.environ`) keeps every setting testable without patching.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)


class ConfigurationError(ValueError):
    """An environment variable has a value Glimpse cannot use; the message names it."""


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _storage_uri(value: str) -> str:
    if "://" in value and not value.startswith("s3://"):
        raise ValueError("must be a local folder or s3://bucket/prefix")
    if value.startswith("s3://") and not value[len("s3://") :].strip("/"):
        raise ValueError("must name a bucket: s3://bucket/prefix")
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _whole_number(value: Any) -> Any:
    return value.replace("_", "") if isinstance(value, str) else value


# Field types shared by the domains' settings.
OnOff = Annotated[Literal["on", "off"], BeforeValidator(_lower)]
HttpUrl = Annotated[str | None, AfterValidator(_http_url)]
CommaList = Annotated[list[str], BeforeValidator(_comma_list)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Money = Annotated[float | None, Field(ge=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# Whether a secret is set; the value itself is not kept (resources read it through dg.EnvVar).
IsSet = Annotated[bool, BeforeValidator(bool)]


def secret(variable: str, is_set: bool) -> Any:
    """`dg.EnvVar(variable)` when it is set, else None: the value is read when a run starts, and a
    missing secret is reported by the step that needs it, not by the whole run's config."""
    import dagster as dg

    return dg.EnvVar(variable) if is_set else None


def choice(*values: str):
    """A field type accepting one of `values`, in any case and with surrounding spaces."""
    return Annotated[Literal[values], BeforeValidator(_lower)]  # type: ignore[valid-type]


class Settings(BaseModel):
    """Base of every domain's settings; see the module docstring."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)
    # Variables whose values a message must not repeat (they hold personal data).
    PRIVATE: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def variables(cls) -> list[str]:
        """The environment variables this settings object reads."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        values = {
            name: env[name].strip()
            for name in cls.variables()
            if name in env and env[name].strip() != ""
        }
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigurationError(_one_line(error, values, cls.PRIVATE)) from None


def _one_line(
    error: ValidationError, values: Mapping[str, str], private: frozenset[str] = frozenset()
) -> str:
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a rule across several variables states them itself
        return message
    name = str(first["loc"][0])
    message = f"{message[:1].lower()}{message[1:]}"
    if name in private:  # personal data (phone numbers): named, never repeated
        return f"{name} is not allowed: {message}"
    return f"{name}={values.get(name, '')!r} is not allowed: {message}"


DEFAULT_STORAGE_URI = ".glimpse/storage"
DEFAULT_START_DATE = date(2026, 1, 1)


class StorageSettings(Settings):
    storage_uri: Annotated[str, AfterValidator(_storage_uri)] = Field(
        DEFAULT_STORAGE_URI, alias="GLIMPSE_STORAGE_URI"
    )
    # boto3 reads AWS_ENDPOINT_URL itself; it is named here so that a bad value fails the load.
    aws_endpoint_url: HttpUrl = Field(None, alias="AWS_ENDPOINT_URL")


class PartitionSettings(Settings):
    start_date: date = Field(DEFAULT_START_DATE, alias="GLIMPSE_START_DATE")


class ProviderSettings(Settings):
    """Which text and image providers run, and the LLM gateway's limits (used by `openai`)."""

    provider: choice("auto", "offline", "openai") = Field("auto", alias="GLIMPSE_PROVIDER")
    # Only whether a key is set is read here (for `auto`); the key itself goes through EnvVar.
    openai_api_key_set: IsSet = Field(False, alias="OPENAI_API_KEY")
    openai_base_url: HttpUrl = Field(None, alias="OPENAI_BASE_URL")
    text_model: str = Field("gpt-4o-mini", alias="GLIMPSE_TEXT_MODEL")
    image_model: str = Field("gpt-image-1", alias="GLIMPSE_IMAGE_MODEL")
    moderation: OnOff = Field("on", alias="GLIMPSE_MODERATION")
    daily_budget_usd: Money = Field(None, alias="GLIMPSE_DAILY_BUDGET_USD")
    prices_file: str | None = Field(None, alias="GLIMPSE_PRICES_FILE")
    max_concurrency: Annotated[int, Field(ge=1)] = Field(8, alias="GLIMPSE_LLM_MAX_CONCURRENCY")
    # The only retries of an LLM call (no step or run retries on top): 1 + this many requests.
    max_retries: Annotated[int, Field(ge=0, le=10)] = Field(2, alias="GLIMPSE_LLM_MAX_RETRIES")
    timeout_seconds: Seconds = Field(120.0, alias="GLIMPSE_LLM_TIMEOUT_SECONDS")

    @property
    def kind(self) -> Literal["offline", "openai"]:
        if self.provider == "auto":
            return "openai" if self.openai_api_key_set else "offline"
        return self.provider

    @model_validator(mode="after")
    def _openai_needs_a_key(self) -> Self:
        if self.provider == "openai" and not self.openai_api_key_set:
            raise ValueError(
                "GLIMPSE_PROVIDER='openai' needs OPENAI_API_KEY (any non-empty value for a local "
                "server that takes no key)"
            )
        return self


class EmbeddingSettings(Settings):
    """Which embedder makes the search vectors. Offline unless asked, even with an API key: an
    index holds one model's vectors, so changing the embedder is a decision, not a side effect."""

    embeddings: choice("offline", "openai") = Field("offline", alias="GLIMPSE_EMBEDDINGS")
    openai_api_key_set: IsSet = Field(False, alias="OPENAI_API_KEY")
    model: str = Field("text-embedding-3-small", alias="GLIMPSE_EMBEDDING_MODEL")
    # Requested from text-embedding-3-* models, expected from any other model.
    dimensions: Annotated[int, Field(ge=1)] = Field(384, alias="GLIMPSE_EMBEDDING_DIMENSIONS")

    @model_validator(mode="after")
    def _openai_needs_a_key(self) -> Self:
        if self.embeddings == "openai" and not self.openai_api_key_set:
            raise ValueError(
                "GLIMPSE_EMBEDDINGS='openai' needs OPENAI_API_KEY (any non-empty value for a "
                "local server that takes no key)"
            )
        return self
