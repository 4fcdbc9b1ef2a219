"""Settings from the environment: one typed, validated object per domain, read in one way.

A domain declares a `Settings` subclass whose fields are aliased to their environment variables
(`Field(default, alias="GLIMPSE_NEWS_SOURCE")`). `Settings.from_env(env)` reads exactly those
variables (empty means unset), validates them with pydantic and, on a bad value, raises a
`ConfigurationError` whose one line names the variable, the value and what is allowed.

Every variable is declared once, here or in a domain's `settings.py`, with its default, what it
accepts and a `description`; `glimpse_assets.config_reference` writes `docs/configuration.md` from
these classes. A resource's config field that a setting feeds takes its default and description
from it (`setting(...)`).

Secrets are declared as settings too (type `Secret`), but only whether one is set is kept: a
resource reads it at run time through `settings.env_var(field)` (a `dg.EnvVar`), so its value is
not copied into the definitions, and a missing one fails only the steps that need it.

Plain pydantic models rather than pydantic-settings: pydantic is already loaded with Dagster, and
reading a given mapping (not only `os.environ`) keeps every setting testable without patching.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

F = TypeVar("F", bound=Callable[..., Any])


class ConfigurationError(ValueError):
    """An environment variable has a value Glimpse cannot use; the message names it."""


def shown_as(text: str) -> Callable[[F], F]:
    """Marks a validator with the words the configuration reference shows for what it accepts."""

    def mark(validator: F) -> F:
        validator.shown_as = text  # type: ignore[attr-defined]
        return validator

    return mark


class _SecretMarker:
    def __repr__(self) -> str:
        return "SECRET"


# In a field's type (`Annotated[..., SECRET]`): the value must never be logged nor copied into the
# definitions; resources read it through `Settings.env_var`.
SECRET = _SecretMarker()


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


@shown_as("a local folder or s3://bucket/prefix")
def _storage_uri(value: str) -> str:
    if "://" in value and not value.startswith("s3://"):
        raise ValueError("must be a local folder or s3://bucket/prefix")
    if value.startswith("s3://") and not value[len("s3://") :].strip("/"):
        raise ValueError("must name a bucket: s3://bucket/prefix")
    return value


@shown_as("an http:// or https:// URL")
def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


@shown_as("comma-separated")
def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


@shown_as("`_` allowed as a separator (10_000)")
def _whole_number(value: Any) -> Any:
    return value.replace("_", "") if isinstance(value, str) else value


# Field types shared by the domains' settings.
OnOff = Annotated[Literal["on", "off"], BeforeValidator(_lower)]
HttpUrl = Annotated[str | None, AfterValidator(_http_url)]
CommaList = Annotated[list[str], BeforeValidator(_comma_list)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Money = Annotated[float | None, Field(ge=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# A secret: only whether it is set is kept; resources read its value through `Settings.env_var`.
Secret = Annotated[bool, BeforeValidator(bool), SECRET]


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
    def is_secret(cls, name: str) -> bool:
        """Whether field `name`'s value must stay out of the definitions: a secret, or personal
        data (`PRIVATE`); resources read such a value through `env_var`."""
        field = cls.model_fields[name]
        return SECRET in field.metadata or (field.alias or name) in cls.PRIVATE

    def env_var(self, name: str) -> Any:
        """Field `name`'s variable as `dg.EnvVar` when it is set, else None: the value is read when
        a run starts, and a missing secret is reported by the step that needs it, not by the
        whole run's config. Only for secret or private fields (`is_secret`)."""
        if not self.is_secret(name):
            raise ValueError(f"{type(self).__name__}.{name} is neither a secret nor private")
        import dagster as dg

        variable = type(self).model_fields[name].alias or name
        return dg.EnvVar(variable) if getattr(self, name) else None

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


def setting(settings: type[Settings], name: str, *, required: bool = False, **field: Any) -> Any:
    """A resource's config field that the setting `settings.<name>` feeds: its default and its
    description are the setting's, so that both are declared once. A secret or private field
    defaults to None (its value comes through `env_var`); `required` gives it no default (the
    resource cannot work without it); `field` adds or overrides `Field`'s arguments (e.g.
    `default=True` where the resource keeps a setting's value as another type)."""
    declared = settings.model_fields[name]
    variable = declared.alias or name
    secret = settings.is_secret(name)
    default: dict[str, Any]
    if required:
        default = {}
    elif secret:
        default = {"default": None}
    elif declared.default_factory is not None:
        default = {"default_factory": declared.default_factory}
    else:
        default = {"default": declared.default}
    through = ", through dg.EnvVar (never logged)" if secret else ""
    description = f"{variable}{through}: {declared.description}"
    return Field(**{**default, "description": description, **field})


DEFAULT_STORAGE_URI = ".glimpse/storage"
DEFAULT_START_DATE = date(2026, 1, 1)


class StorageSettings(Settings):
    """Where every output is stored, and how S3 is reached. S3 credentials come from the standard
    AWS chain (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, profiles, instance roles)."""

    storage_uri: Annotated[str, AfterValidator(_storage_uri)] = Field(
        DEFAULT_STORAGE_URI,
        alias="GLIMPSE_STORAGE_URI",
        description="Where outputs, caches and ledgers are stored.",
    )
    # boto3 reads these itself; they are named here so that a bad value fails the load.
    aws_endpoint_url: HttpUrl = Field(
        None,
        alias="AWS_ENDPOINT_URL",
        description="An S3-compatible server (MinIO, SeaweedFS, LocalStack, ...); unset: AWS.",
    )
    aws_endpoint_url_s3: HttpUrl = Field(
        None,
        alias="AWS_ENDPOINT_URL_S3",
        description="As AWS_ENDPOINT_URL, for S3 alone; it wins over AWS_ENDPOINT_URL.",
    )
    aws_region: str | None = Field(
        None, alias="AWS_REGION", description="The S3 bucket's region; unset: the AWS chain's."
    )
    aws_default_region: str | None = Field(
        None,
        alias="AWS_DEFAULT_REGION",
        description="The region used when AWS_REGION is not set.",
    )


class ServedStorageSettings(Settings):
    """Where the storage folder is served on the internet, for services that fetch an image by
    URL (Instagram, MMS)."""

    public_base_url: HttpUrl = Field(
        None,
        alias="GLIMPSE_PUBLIC_BASE_URL",
        description="The public URL the storage folder is served at, for Instagram and MMS with "
        "local storage (with S3 storage a presigned URL is used instead).",
    )


class PartitionSettings(Settings):
    """The daily partitions every asset shares."""

    start_date: date = Field(
        DEFAULT_START_DATE,
        alias="GLIMPSE_START_DATE",
        description="The first day of the daily partitions (UTC days from it to today).",
    )


class InstanceSettings(Settings):
    """The Dagster instance: read by Dagster itself (`dagster.yaml`) and by `make run`."""

    dagster_home: str | None = Field(
        None,
        alias="DAGSTER_HOME",
        description="The Dagster instance's folder (run history, schedules, logs); the Makefile "
        "sets it to `.dagster`.",
    )
    pg_host: str | None = Field(
        None,
        alias="DAGSTER_PG_HOST",
        description="The PostgreSQL server of `deploy/dagster.postgres.yaml`.",
    )
    pg_port: str | None = Field(
        None, alias="DAGSTER_PG_PORT", description="Its port (PostgreSQL's default: 5432)."
    )
    pg_db: str | None = Field(None, alias="DAGSTER_PG_DB", description="Its database.")
    pg_username: str | None = Field(
        None, alias="DAGSTER_PG_USERNAME", description="The user Dagster logs in as."
    )
    pg_password_set: Secret = Field(
        False, alias="DAGSTER_PG_PASSWORD", description="That user's password."
    )
    compute_logs_bucket: str | None = Field(
        None,
        alias="GLIMPSE_COMPUTE_LOGS_BUCKET",
        description="The S3 bucket `deploy/dagster.postgres.yaml` keeps each step's stdout and "
        "stderr in (dagster-aws's S3ComputeLogManager, prefix `compute-logs`).",
    )


class OpenAIKeySettings(Settings):
    """The key of OpenAI or of an OpenAI-compatible server, for the providers and the embeddings.
    Only whether it is set is read here (for `auto`); the key itself goes through `env_var`."""

    openai_api_key_set: Secret = Field(
        False,
        alias="OPENAI_API_KEY",
        description="The API key of OpenAI or of the OpenAI-compatible server at "
        "OPENAI_BASE_URL (any non-empty value for a local server that takes no key).",
    )


class ProviderSettings(OpenAIKeySettings):
    """Which text and image providers run, and the LLM gateway's limits (used by `openai`)."""

    provider: choice("auto", "offline", "openai") = Field(
        "auto",
        alias="GLIMPSE_PROVIDER",
        description="Which models write text and draw images: `offline` (deterministic, no "
        "network), `openai`, or `auto` (openai when OPENAI_API_KEY is set).",
    )
    openai_base_url: HttpUrl = Field(
        None,
        alias="OPENAI_BASE_URL",
        description="Any OpenAI-compatible server (Ollama, vLLM, a gateway), e.g. "
        "`http://localhost:11434/v1`; unset: OpenAI.",
    )
    openai_organization: str | None = Field(
        None,
        alias="OPENAI_ORGANIZATION",
        description="The OpenAI organisation the calls are billed to (sent as the "
        "`OpenAI-Organization` header); unset: the key's default.",
    )
    openai_project: str | None = Field(
        None,
        alias="OPENAI_PROJECT",
        description="The OpenAI project the calls belong to (sent as the `OpenAI-Project` "
        "header); unset: the key's default.",
    )
    text_model: str = Field(
        "gpt-4o-mini",
        alias="GLIMPSE_TEXT_MODEL",
        description="The Chat Completions model that writes the image prompt, the rides "
        "summaries, the activity stories and the SMS answers.",
    )
    image_model: str = Field(
        "gpt-image-1",
        alias="GLIMPSE_IMAGE_MODEL",
        description="The Images API model that draws the day's picture (`dall-e-*` models are "
        "asked for `b64_json`).",
    )
    moderation: OnOff = Field(
        "on",
        alias="GLIMPSE_MODERATION",
        description="`off` drops the moderation check, for OpenAI-compatible servers without "
        "`/v1/moderations`.",
    )
    daily_budget_usd: Money = Field(
        None,
        alias="GLIMPSE_DAILY_BUDGET_USD",
        description="The most the LLM calls may spend per UTC day, in US dollars, estimated "
        "from the price table; unset: no limit.",
    )
    prices_file: str | None = Field(
        None,
        alias="GLIMPSE_PRICES_FILE",
        description="A JSON file laid over `glimpse_assets/data/prices.json` (same shape), to "
        "override or add models' prices.",
    )
    max_concurrency: Annotated[int, Field(ge=1)] = Field(
        8,
        alias="GLIMPSE_LLM_MAX_CONCURRENCY",
        description="Model calls in flight at once within one step.",
    )
    # The only retries of an LLM call (no step or run retries on top): 1 + this many requests.
    max_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        2,
        alias="GLIMPSE_LLM_MAX_RETRIES",
        description="The only retries of a model call after a 429, a 5xx, a connection error "
        "or a timeout (1 + this many requests a call).",
    )
    timeout_seconds: Seconds = Field(
        120.0,
        alias="GLIMPSE_LLM_TIMEOUT_SECONDS",
        description="How long one model request may take, in seconds.",
    )

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


class EmbeddingSettings(OpenAIKeySettings):
    """Which embedder makes the search vectors. Offline unless asked, even with an API key: an
    index holds one model's vectors, so changing the embedder is a decision, not a side effect."""

    embeddings: choice("offline", "openai") = Field(
        "offline",
        alias="GLIMPSE_EMBEDDINGS",
        description="`offline` (all-MiniLM-L6-v2, shipped with the package) or `openai` (an "
        "OpenAI-compatible `/embeddings` endpoint through the gateway); offline even when "
        "OPENAI_API_KEY is set, so the index stays in one vector space unless you ask.",
    )
    model: str = Field(
        "text-embedding-3-small",
        alias="GLIMPSE_EMBEDDING_MODEL",
        description="The embedding model, for `openai`.",
    )
    # Requested from text-embedding-3-* models, expected from any other model.
    dimensions: Annotated[int, Field(ge=1)] = Field(
        384,
        alias="GLIMPSE_EMBEDDING_DIMENSIONS",
        description="The vectors' length, for `openai`: asked of `text-embedding-3-*` models, "
        "expected from any other.",
    )

    @model_validator(mode="after")
    def _openai_needs_a_key(self) -> Self:
        if self.embeddings == "openai" and not self.openai_api_key_set:
            raise ValueError(
                "GLIMPSE_EMBEDDINGS='openai' needs OPENAI_API_KEY (any non-empty value for a "
                "local server that takes no key)"
            )
        return self
