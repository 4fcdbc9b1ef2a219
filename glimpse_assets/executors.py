"""The executor the code location runs steps with, chosen by GLIMPSE_EXECUTOR at load.

`in_process` (the default): a run's steps one after another in the run's process; a run over
a long range of days (a backfill, `--partition-range`, `make run DAYS=`) runs its steps side by
side instead, each in its own process, as many at once as there are cores (`range_executor`).
`multiprocess`: each step in its own process (dagster's multiprocess executor).
`celery`: each step a Celery task on a Redis broker, run by `dagster-celery` workers (`make
workers`, or `dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml`), on this
machine or any other that reaches the broker, the instance (Postgres) and the storage.
GLIMPSE_CELERY_BROKER_URL names the Redis that is both the broker and the result backend
(`redis://host:6379/0`; the workers read the same variable). dagster-celery (the `deploy` extra)
is imported only when it is chosen.

The URLs may carry a password, so they are not copied into the definitions: the executor reads
them from the environment when a run starts (`{"env": ...}`), as resources read secrets. Steps
on other processes read and write their inputs and outputs through the IO manager, so a
distributed executor needs a GLIMPSE_STORAGE_URI that every worker reaches: s3://, or a folder
they all mount.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

import dagster as dg
from pydantic import BeforeValidator, Field, model_validator

from glimpse_assets.settings import SECRET, ConfigurationError, Settings, shown_as

BROKER_VARIABLE = "GLIMPSE_CELERY_BROKER_URL"
CELERY_SCHEMES = ("redis://", "rediss://")


def _lower(value):
    return value.strip().lower().replace("-", "_") if isinstance(value, str) else value


@shown_as("a redis:// or rediss:// URL")
def _redis_url_set(value: Any) -> Any:
    """Whether a Redis URL is set; a URL of another scheme is refused (the value is not kept)."""
    if isinstance(value, str) and value.strip():
        if not value.strip().startswith(CELERY_SCHEMES):
            raise ValueError("must be a redis:// or rediss:// URL")
        return True
    return bool(value)


# A secret (the URL may carry a password): only whether it is set is kept.
RedisUrlSet = Annotated[bool, BeforeValidator(_redis_url_set), SECRET]


class ExecutorSettings(Settings):
    """How a run's steps are executed: in the run's process, a process each, or on Celery."""

    executor: Annotated[
        Literal["in_process", "multiprocess", "celery"], BeforeValidator(_lower)
    ] = Field(
        "in_process",
        alias="GLIMPSE_EXECUTOR",
        description="`in_process` (a long range's steps side by side, one process each), "
        "`multiprocess` (every step in its own process) or `celery` (every step a task on "
        "Celery workers).",
    )
    celery_broker_url_set: RedisUrlSet = Field(
        False,
        alias=BROKER_VARIABLE,
        description="The Redis that is both Celery's broker and its result backend, e.g. "
        "`redis://127.0.0.1:6379/0`, for `celery`; the workers read it too.",
    )

    @model_validator(mode="after")
    def _celery_needs_a_broker(self) -> Self:
        if self.executor == "celery" and not self.celery_broker_url_set:
            raise ValueError(
                f"GLIMPSE_EXECUTOR='celery' needs {BROKER_VARIABLE} (for example "
                "redis://127.0.0.1:6379/0)"
            )
        return self


def celery_executor_config() -> dict[str, Any]:
    """dagster-celery's executor config: Redis as broker and result backend, read at run start.
    Workers keep their own stdout and stderr (Celery would send them to its log), so the
    instance's compute log manager captures each step's output (S3 in deploy/)."""
    return {
        "broker": {"env": BROKER_VARIABLE},
        "backend": {"env": BROKER_VARIABLE},
        "config_source": {"worker_redirect_stdouts": False},
    }


def executor_from_env(env: Mapping[str, str]) -> dg.ExecutorDefinition:
    """The executor GLIMPSE_EXECUTOR names (see the module docstring)."""
    settings = ExecutorSettings.from_env(env)
    if settings.executor == "celery":
        try:
            from dagster_celery import celery_executor
        except ModuleNotFoundError:
            raise ConfigurationError(
                "GLIMPSE_EXECUTOR='celery' needs dagster-celery: pip install -e '.[deploy]'"
            ) from None
        return celery_executor.configured(celery_executor_config(), name="celery")
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    from glimpse_assets.range_executor import in_process_or_parallel_ranges

    return in_process_or_parallel_ranges
