"""The default executor: a day's steps one after another in the run's process, a long range's
steps side by side on the cores.

A one-day run is mostly start-up: steps in the run's own process cost no new process. A run over
many days (every asset is `BackfillPolicy.single_run()`, so a backfill of a year is one run) is
mostly compute: each step computes its days one at a time, and a lineage's steps wait for each
other, but the lineages (news, rides, search, stories) do not, so their steps run at once, each
in its own process, up to one per core. Processes fork from a server that has loaded the code
location once (forkserver), so a step's start costs little against a range's work.

Dagster chooses a job's executor when it is defined, not per run; this executor chooses when the
run starts, from the run's partition range tags. It uses Dagster's `Executor` interface and its
in-process and multiprocess executors, which Dagster exports only under `dagster._core`
(through dagster_compat.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from glimpse_assets.dagster_compat import (
    Executor,
    InProcessExecutor,
    ReconstructableJob,
    RetryMode,
    multiprocess_executor_class,
)

if TYPE_CHECKING:
    from dagster._core.execution.context.system import PlanOrchestrationContext
    from dagster._core.execution.plan.plan import ExecutionPlan

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# From this many days a run's steps run side by side: below it, the processes' start-up (about
# a second a step) outweighs what the second core gives (benchmarks/backfill.py, BENCHMARKS.md).
PARALLEL_FROM_DAYS = 60
# Loaded once by the fork server, so that each step's process starts with the code location and
# the data libraries every step uses (not the code location's load: only a long range pays them).
PRELOAD = ["glimpse_assets.definitions", "numpy", "pandas", "pyarrow.parquet", "PIL.Image"]


def days_in_run(tags: Mapping[str, str]) -> int:
    """How many daily partitions a run covers, from its tags (1 for a one-day run)."""
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not start or not end:
        return 1
    try:
        return (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
    except ValueError:
        return 1


class InProcessOrParallelRanges(Executor):
    """In process for a day or a short range; one process a step, side by side, for a long
    range of a job that can be rebuilt in another process (not `execute_in_process`)."""

    def __init__(self, one_day: Executor, long_range: Executor | None, from_days: int) -> None:
        self._one_day = one_day
        self._long_range = long_range
        self._from_days = from_days

    @property
    def retries(self) -> RetryMode:
        return self._one_day.retries

    def chosen(self, tags: Mapping[str, str]) -> Executor:
        if self._long_range is not None and days_in_run(tags) >= self._from_days:
            return self._long_range
        return self._one_day

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[dg.DagsterEvent]:
        return self.chosen(plan_context.dagster_run.tags).execute(plan_context, execution_plan)


@dg.executor(
    name="in_process_or_parallel_ranges",
    config_schema={
        "max_concurrent": dg.Field(
            int,
            default_value=0,
            description="Steps at once in a long range's run (0: one per core).",
        ),
        "parallel_from_days": dg.Field(
            int,
            default_value=PARALLEL_FROM_DAYS,
            description="A run over at least this many days runs its steps side by side.",
        ),
    },
)
def in_process_or_parallel_ranges(init_context: dg.InitExecutorContext) -> Executor:
    config = init_context.executor_config
    one_day = InProcessExecutor(retries=RetryMode.ENABLED)
    long_range = None
    # Another process can rebuild the job only from where it is defined (a daemon's run, the
    # CLI); `execute_in_process` runs an in-memory job, in process.
    if isinstance(init_context.job, ReconstructableJob):
        long_range = multiprocess_executor_class()(
            max_concurrent=int(config["max_concurrent"]) or os.cpu_count() or 1,
            retries=RetryMode.ENABLED,
            start_method="forkserver",
            explicit_forkserver_preload=PRELOAD,
        )
    return InProcessOrParallelRanges(one_day, long_range, int(config["parallel_from_days"]))
