"""The executor the code location runs steps with, chosen by GLIMPSE_EXECUTOR at load.

`in_process` (the default): a run's steps one after another in the run's process.
`multiprocess`: each step in its own process (dagster's multiprocess executor).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

import dagster as dg
from pydantic import BeforeValidator, Field

from glimpse_assets.settings import Settings


def _lower(value):
    return value.strip().lower().replace("-", "_") if isinstance(value, str) else value


class ExecutorSettings(Settings):
    executor: Annotated[Literal["in_process", "multiprocess"], BeforeValidator(_lower)] = Field(
        "in_process", alias="GLIMPSE_EXECUTOR"
    )


def executor_from_env(env: Mapping[str, str]) -> dg.ExecutorDefinition:
    choice = ExecutorSettings.from_env(env).executor
    if choice == "multiprocess":
        return dg.multiprocess_executor
    return dg.in_process_executor
