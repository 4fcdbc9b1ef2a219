"""Every use of Dagster beyond its public API, in one module, each with a contract test
(glimpse_assets_tests/test_dagster_compat.py), so that a Dagster upgrade that changes one breaks
this file and its test loudly, not a step somewhere at run time.

What each is for:
- `step_key`, `step_asset_metadata`: a step's key (the publishing ledger's claim owner) and the
  metadata a range step attached to one day so far (ranges.py records each day as it is stored).
  Dagster keeps both on the step execution context, which it does not document.
- `run_event_records`: the materialisation and check events of one run (ranges.py skips the days
  an upstream step of the run did not store). `DagsterInstance.get_records_for_run` is not in
  Dagster's public API docs.
- `narrow_output_partitions`: a range step that skipped days must not have them recorded; Dagster
  has no public way to leave partitions out of an output (dagster-io/dagster#17836).
- The executor classes range_executor.py builds on: Dagster exports the `Executor` interface but
  its in-process and multiprocess executors, `RetryMode` and `ReconstructableJob` only under
  `dagster._core`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.base import Executor
from dagster._core.executor.in_process import InProcessExecutor

__all__ = [
    "Executor",
    "InProcessExecutor",
    "ReconstructableJob",
    "RetryMode",
    "multiprocess_executor_class",
    "narrow_output_partitions",
    "run_event_records",
    "step_asset_metadata",
    "step_key",
]


def multiprocess_executor_class() -> type[Executor]:
    """Dagster's multiprocess executor (imported when a long range needs it)."""
    from dagster._core.executor.multiprocess import MultiprocessExecutor

    return MultiprocessExecutor


def step_key(context: dg.AssetExecutionContext) -> str:
    """The key of the step `context` runs (the same on a retry of that step)."""
    return context.get_step_execution_context().step.key


def step_asset_metadata(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, partition: str
) -> Mapping[str, Any]:
    """The metadata this step has attached to `asset_key`'s `partition` so far."""
    step = context.get_step_execution_context()
    return step.get_asset_metadata(asset_key, partition) or {}


def run_event_records(
    instance: dg.DagsterInstance, run_id: str, of_type: Collection[dg.DagsterEventType]
) -> list[dg.EventLogRecord]:
    """The event log records of `run_id` of the given types, oldest first."""
    return list(instance.get_records_for_run(run_id, of_type=set(of_type)).records)


def narrow_output_partitions(context: dg.OutputContext, keys: list[str]) -> bool:
    """Make the output's partitions `keys` only (Dagster reads them right after `handle_output`
    to record materialisations); whether it took, checked through the public
    `asset_partition_keys`."""
    if keys and hasattr(context, "_asset_partitions_subset"):
        context._asset_partitions_subset = context.asset_partitions_def.subset_with_partition_keys(
            keys
        )
    return bool(keys) and list(context.asset_partition_keys) == keys
