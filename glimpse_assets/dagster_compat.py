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
- `backfill_record`, `backfill_targets`, `BACKFILL_ID_TAG`: a backfill as the daemon records it
  (status, timestamps, the days targeted and made by asset) and the days a backfill of a
  selection would target, for the UI-backfill test, the rides history test and
  benchmarks/backfill.py. `DagsterInstance.get_backfill` returns `PartitionBackfill` with a
  `BulkActionStatus`, and `AssetBackfillData` plans the targets: none is public API.
- `evaluation_instance`: the instance an automation condition reads (automation.py: which run
  stored a day); `AutomationContext` does not document it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.base import Executor
from dagster._core.executor.in_process import InProcessExecutor
from dagster._core.storage.tags import BACKFILL_ID_TAG

__all__ = [
    "BACKFILL_ID_TAG",
    "BackfillRecord",
    "Executor",
    "InProcessExecutor",
    "ReconstructableJob",
    "RetryMode",
    "backfill_record",
    "backfill_targets",
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


# A backfill the daemon is still working on; every other status is an end (success or not).
BACKFILL_UNFINISHED = frozenset({"REQUESTED", "CANCELING", "FAILING"})


@dataclass(frozen=True)
class BackfillRecord:
    """A backfill as the instance stores it, in plain values."""

    backfill_id: str
    status: str  # BulkActionStatus's name: "REQUESTED", "COMPLETED_SUCCESS", "COMPLETED_FAILED"...
    submitted: float  # when it was stored (seconds since the epoch)
    ended: float | None  # when the daemon saw it end
    asset_keys: tuple[dg.AssetKey, ...]  # the selection
    targeted: dict[str, list[str]]  # the partition keys it is to make, by asset
    materialised: dict[str, list[str]]  # those it made so far, by asset

    @property
    def finished(self) -> bool:
        return self.status not in BACKFILL_UNFINISHED


def _partitions_by_asset(subset, keys: Iterable[dg.AssetKey]) -> dict[str, list[str]]:
    """The partition keys of an AssetGraphSubset, by asset of `keys` (none: an empty list)."""
    found: dict[str, list[str]] = {key.to_user_string(): [] for key in keys}
    for item in subset.iterate_asset_partitions():
        found.get(item.asset_key.to_user_string(), []).append(item.partition_key)
    return {name: sorted(partitions) for name, partitions in found.items()}


def backfill_record(instance: dg.DagsterInstance, backfill_id: str) -> BackfillRecord | None:
    """The stored backfill `backfill_id` (None if there is none yet)."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        return None
    data = backfill.asset_backfill_data
    keys = list(data.target_subset.asset_keys) if data is not None else []
    return BackfillRecord(
        backfill_id=backfill.backfill_id,
        status=backfill.status.value,
        submitted=backfill.backfill_timestamp,
        ended=backfill.backfill_end_timestamp,
        asset_keys=tuple(backfill.asset_selection or ()),
        targeted=_partitions_by_asset(data.target_subset, keys) if data is not None else {},
        materialised=_partitions_by_asset(data.materialized_subset, keys)
        if data is not None
        else {},
    )


def backfill_targets(
    asset_graph, asset_keys: Iterable[dg.AssetKey], partition_keys: list[str], as_of: datetime
) -> dict[str, list[str]]:
    """The partition keys, by asset of `asset_keys`, that a backfill of those assets over
    `partition_keys` submitted at `as_of` targets (as the UI's launch plans it); `asset_graph`
    is `Definitions.resolve_asset_graph()`'s."""
    from dagster._core.execution.asset_backfill import AssetBackfillData

    keys = list(asset_keys)
    data = AssetBackfillData.from_asset_partitions(
        asset_graph=asset_graph,
        partition_names=partition_keys,
        asset_selection=keys,
        dynamic_partitions_store=dg.DagsterInstance.ephemeral(),
        backfill_start_timestamp=as_of.timestamp(),
        all_partitions=False,
    )
    return _partitions_by_asset(data.target_subset, keys)


def evaluation_instance(context: dg.AutomationContext) -> dg.DagsterInstance:
    """The instance an automation condition's evaluation reads (automation.py looks up which run
    stored a day). `AutomationContext` does not document it; its asset graph view holds it."""
    return context.asset_graph_view.instance
