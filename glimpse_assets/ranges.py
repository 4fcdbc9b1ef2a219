"""One day at a time, whatever a run covers: a single day, or a range in a single-run backfill.

A run over one partition gives an asset plain input values and stores the plain value it returns.
A run over several partitions (`BackfillPolicy.single_run()` or a bounded multi-run chunk) gives
every partitioned input as a mapping from partition key to that day's value, and the IO manager
expects a mapping back (see `storage`). `for_each_day` hides that difference: the asset's logic is
written for one day and is called once per day, in order, with that day's inputs, so a range run
stores exactly what day-by-day runs store.

Metadata goes to the day it describes: `add_day_metadata` attaches it to the partition being
computed (`context.add_asset_metadata(..., partition_key=day)`) in a range run, and to the output
in a single-day run, so the UI shows the same per-day figures either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import date
from typing import Any

import dagster as dg

_current_day: ContextVar[str | None] = ContextVar("glimpse_current_day", default=None)


class DayFailedError(Exception):
    """A range run failed on one day; the message names the asset and the day."""

    def __init__(self, asset: str, day: str, error: BaseException) -> None:
        super().__init__(f"{asset} failed for {day}: {type(error).__name__}: {error}")
        self.asset = asset
        self.day = day


def run_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    """The partition keys this run covers, oldest first."""
    return list(context.partition_keys)


def inputs_of_day(inputs: Mapping[str, Mapping[str, Any]], day: str) -> dict[str, Any]:
    """Each range input's value for `day`."""
    return {name: value[day] for name, value in inputs.items()}


def add_day_metadata(context: Any, metadata: Mapping[str, Any]) -> None:
    """Attach `metadata` to the day being computed (see the module docstring)."""
    day = _current_day.get()
    if day is None:
        context.add_output_metadata(dict(metadata))
    else:
        context.add_asset_metadata(dict(metadata), partition_key=day)


def day_failure(asset: str, day: str, error: BaseException) -> BaseException:
    """The error to raise for a failed day, keeping a `Failure`'s retry decision."""
    if isinstance(error, dg.Failure):
        return dg.Failure(
            description=f"{asset} failed for {day}: {error.description}",
            metadata={**error.metadata, "failed_day": day},
            allow_retries=error.allow_retries,
        )
    return DayFailedError(asset, day, error)


def for_each_day(
    context: dg.AssetExecutionContext, compute: Callable[..., Any], **inputs: Any
) -> Any:
    """Call `compute(day, **that_day_inputs)` for every day of the run.

    Returns the value itself for a one-day run and `{day: value}` for a range. A day that fails
    stops the run with an error naming it; nothing of the range has been stored at that point.
    """
    days = run_days(context)
    if len(days) == 1:
        return compute(date.fromisoformat(days[0]), **inputs)
    asset = context.asset_key.to_user_string()
    values = {}
    for day in days:
        token = _current_day.set(day)
        try:
            values[day] = compute(date.fromisoformat(day), **inputs_of_day(inputs, day))
        except Exception as error:
            raise day_failure(asset, day, error) from error
        finally:
            _current_day.reset(token)
    return values


def check_each_day(
    context: dg.AssetCheckExecutionContext,
    check: Callable[..., dg.AssetCheckResult],
    **inputs: Any,
) -> dg.AssetCheckResult:
    """Evaluate a one-day check for every day of the run.

    A one-day run returns that day's result. A range run records each day's evaluation under its
    own partition (so the UI shows a result per day, as day-by-day runs do) and returns one result
    for the range that passes only if every day passed and names the days that did not.
    """
    days = run_days(context)
    if len(days) == 1:
        return check(days[0], **inputs)
    spec = next(iter(context.check_specs))
    failed: list[tuple[str, dg.AssetCheckResult]] = []
    for day in days:
        result = check(day, **inputs_of_day(inputs, day))
        context.op_execution_context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
                partition=day,
            )
        )
        if not result.passed:
            failed.append((day, result))
    described = "; ".join(f"{day}: {result.description}" for day, result in failed[:10])
    more = f"; and {len(failed) - 10} more days" if len(failed) > 10 else ""
    return dg.AssetCheckResult(
        passed=not failed,
        severity=failed[0][1].severity if failed else dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(failed)} of {len(days)} days failed: {described}{more}"
            if failed
            else f"all {len(days)} days passed ({days[0]}..{days[-1]})"
        ),
        metadata={
            "days_checked": len(days),
            "days_failed": len(failed),
            "failed_days": ", ".join(day for day, _ in failed),
        },
    )
