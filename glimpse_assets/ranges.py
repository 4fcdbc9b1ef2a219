"""One day at a time, whatever a run covers: a single day, or a range in a single-run backfill.

A run over one partition gives an asset plain input values and stores the plain value it returns.
A run over several partitions (`BackfillPolicy.single_run()` or a bounded multi-run chunk) gives
every partitioned input as a mapping from partition key to that day's value, read from storage
only when asked for (see `storage`). `for_each_day` hides that difference: the asset's logic is
written for one day and is called once per day, in order, with that day's inputs, so a range run
stores exactly what day-by-day runs store.

In a range, each day is stored as soon as it is computed and its materialisation recorded right
then, with that day's own metadata (`add_day_metadata`, and what the IO manager says of the
object): a range holds one day's output in memory, never the range's, and a run that stops on
day 3 leaves days 1-2 new in storage and in the event log, and day 3 on as they were.

A bad day stops that day only. A blocking check that fails for some days of a range fails those
days, not the range (`check_each_day`), and every step downstream in the run skips the days an
upstream asset of this run did not store or a blocking check failed for, stores and records
nothing for them, and says which it skipped and why (a warning, and the check's result). A range
in which every day fails a blocking check stops downstream as a one-day run does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from contextvars import ContextVar
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from glimpse_assets.dagster_compat import run_event_records, step_asset_metadata
from glimpse_assets.skipped_checks import NothingToCheck, skip_message
from glimpse_assets.storage.io_manager import GlimpseIOManager, StoredDays

if TYPE_CHECKING:
    import pandas as pd

_current_day: ContextVar[str | None] = ContextVar("glimpse_current_day", default=None)

# Past this many days, messages name the first ones and count the rest.
NAMED_DAYS = 10


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


def metadata_added_for_day(context: dg.AssetExecutionContext, day: date) -> Mapping[str, Any]:
    """The metadata this step has attached to `day` so far (see `ranges.add_day_metadata`)."""
    if len(context.partition_keys) == 1:
        return context.get_output_metadata(context.op_execution_context.op_def.output_defs[0].name)
    # In a range, per-day metadata is kept on the step context (as `ranges` reads it too).
    return step_asset_metadata(context, context.asset_key, day.isoformat())


def requests_made(
    context: dg.AssetExecutionContext, day: date, results: pd.DataFrame
) -> int | None:
    """Provider requests the day's `results` (rows with a `provider` column) took, as measured:
    the gateway's `llm_requests` (cached answers are not requests), none for no rows or for the
    offline provider (it makes no request), and None (not reported) for a provider that does
    not say."""
    reported = (metadata_added_for_day(context, day) or {}).get("llm_requests")
    if reported is not None:
        return int(getattr(reported, "value", reported))
    if results.empty or (results["provider"] == "offline").all():
        return 0
    return None


def day_failure(asset: str, day: str, error: BaseException) -> BaseException:
    """The error to raise for a failed day, keeping a `Failure`'s retry decision."""
    if isinstance(error, dg.Failure):
        return dg.Failure(
            description=f"{asset} failed for {day}: {error.description}",
            metadata={**error.metadata, "failed_day": day},
            allow_retries=error.allow_retries,
        )
    return DayFailedError(asset, day, error)


def named_days(reasons: Mapping[str, str]) -> str:
    """`2026-03-02 (why); 2026-03-05 (why)`: the first NAMED_DAYS, and how many more."""
    named = "; ".join(f"{day} ({why})" for day, why in list(reasons.items())[:NAMED_DAYS])
    more = len(reasons) - NAMED_DAYS
    return named + (f"; and {more} more days" if more > 0 else "")


# -- which days of a range an upstream stopped -------------------------------------------------


def _failed_blocking_checks(event: dg.DagsterEvent, wanted: Collection[str]) -> tuple | None:
    """(asset key, day, check name) of a per-day blocking check that failed with ERROR."""
    evaluation = event.asset_check_evaluation_data
    if (
        evaluation.partition in wanted
        and evaluation.blocking
        and not evaluation.passed
        and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ):
        return evaluation.asset_key, evaluation.partition, evaluation.check_name
    return None


def blocked_days(
    context: dg.OpExecutionContext,
    upstream: Collection[dg.AssetKey],
    days: Sequence[str],
    *,
    by_checks: bool = True,
) -> dict[str, str]:
    """The days of this range a step must skip, each with why: for every upstream asset that ran
    in this run, the days it did not store and (`by_checks`) the days one of its blocking checks
    failed for.

    Read from the event log. In a re-execution, an upstream asset that did not run again is
    looked up in the run it came from (the parent runs, nearest first). An upstream asset that
    ran in no run of the lineage is read from storage as it is, as Dagster does.
    """
    wanted = set(days)
    pending = set(upstream)
    blocked: dict[str, str] = {}
    instance = context.instance
    run = context.run
    while pending and run is not None:
        stored: dict[dg.AssetKey, set[str]] = defaultdict(set)
        failed: dict[dg.AssetKey, dict[str, str]] = defaultdict(dict)
        failed_by_day: dict[str, set[str]] = defaultdict(set)
        records = run_event_records(
            instance,
            run.run_id,
            {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION},
        )
        for record in records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                if event.partition in wanted:
                    stored[event.asset_key].add(event.partition)
            elif (found := _failed_blocking_checks(event, wanted)) is not None:
                key, day, check_name = found
                failed[key].setdefault(day, check_name)
                failed_by_day[day].add(check_name)
        for key in sorted((k for k in pending if stored[k]), key=dg.AssetKey.to_user_string):
            pending.discard(key)
            for day in days:
                if by_checks and day in failed[key]:
                    blocked.setdefault(day, f"{failed[key][day]} failed")
                elif day not in stored[key]:
                    cause = ", ".join(sorted(failed_by_day[day]))
                    why = f"; {cause} failed" if cause else ""
                    blocked.setdefault(day, f"{key.to_user_string()} was not stored for it{why}")
        run = instance.get_run_by_id(run.parent_run_id) if run.parent_run_id else None
    return {day: blocked[day] for day in days if day in blocked}


def nothing_stored(result: Any) -> bool:
    """Whether a range step skipped every day (see `for_each_day`): it then has no output."""
    return isinstance(result, StoredDays) and not result.days


def unstored_input_days(inputs: Mapping[str, Any]) -> dict[str, str]:
    """The days of a range for which an input has nothing stored, each with why: such a day is
    skipped, not failed (a range run of an asset alone over days its parent never made)."""
    missing: dict[str, str] = {}
    for name, value in inputs.items():
        for day in value.missing() if hasattr(value, "missing") else []:
            missing.setdefault(day, f"{name} is not stored for it")
    return missing


def upstream_of_asset(context: dg.AssetExecutionContext) -> set[dg.AssetKey]:
    return set(context.assets_def.asset_deps.get(context.asset_key, ()))


def upstream_of_check(spec: dg.AssetCheckSpec) -> set[dg.AssetKey]:
    return {spec.asset_key, *(dep.asset_key for dep in spec.additional_deps)}


# -- assets ------------------------------------------------------------------------------------


def day_writer(context: dg.AssetExecutionContext) -> GlimpseIOManager | None:
    """The IO manager of this asset's output, if it can store one day at a time."""
    key = context.assets_def.get_io_manager_key_for_asset_key(context.asset_key)
    manager = getattr(context.resources, key, None)
    return manager if isinstance(manager, GlimpseIOManager) else None


def for_each_day(
    context: dg.AssetExecutionContext, compute: Callable[..., Any], **inputs: Any
) -> Any:
    """Call `compute(day, **that_day_inputs)` for every day of the run.

    A one-day run returns the value itself, which the IO manager stores. A range stores and
    records each day as soon as it is computed, skipping the days an upstream stopped (see the
    module docstring), and returns `StoredDays`. A day that fails stops the run with an error
    naming it: the days before it are stored and recorded, it and those after it are untouched.
    """
    days = run_days(context)
    if len(days) == 1:
        return compute(date.fromisoformat(days[0]), **inputs)
    asset = context.asset_key.to_user_string()
    unstored = unstored_input_days(inputs)
    blocked = {
        **unstored,
        **blocked_days(context.op_execution_context, upstream_of_asset(context), days),
    }
    blocked = {day: blocked[day] for day in days if day in blocked}
    if blocked.keys() == unstored.keys() == set(days):
        context.log.warning(f"{asset}: skipped every day, {named_days(blocked)}")
        return StoredDays(days=(), skipped=blocked)
    if len(blocked) == len(days):
        raise dg.Failure(
            description=f"{asset}: every day of {days[0]}..{days[-1]} was skipped: "
            f"{named_days(blocked)}",
            metadata={"skipped_days": ", ".join(blocked)},
            allow_retries=False,
        )
    writer = day_writer(context)
    if writer is None:
        if blocked:
            raise dg.Failure(
                description=f"{asset}: cannot skip {named_days(blocked)}: its IO manager "
                "stores whole ranges only",
                allow_retries=False,
            )
        return {day: _compute_day(asset, day, compute, inputs) for day in days}
    stored = []
    for day in days:
        if day in blocked:
            continue
        value = _compute_day(asset, day, compute, inputs)
        try:
            storage_metadata = writer.store_partition(context.asset_key, day, value)
        except Exception as error:
            raise day_failure(asset, day, error) from error
        del value  # one day in memory at a time
        _record_day(context, day, storage_metadata)
        stored.append(day)
    if blocked:
        context.log.warning(
            f"{asset}: skipped {named_days(blocked)}; stored the other {len(stored)} of "
            f"{len(days)} days"
        )
    return StoredDays(days=tuple(stored), skipped=blocked)


def _compute_day(asset: str, day: str, compute: Callable[..., Any], inputs: Mapping) -> Any:
    token = _current_day.set(day)
    try:
        return compute(date.fromisoformat(day), **inputs_of_day(inputs, day))
    except Exception as error:
        raise day_failure(asset, day, error) from error
    finally:
        _current_day.reset(token)


def _record_day(context: dg.AssetExecutionContext, day: str, storage: Mapping[str, Any]) -> None:
    """Record the day's materialisation now, with the metadata its computation attached and what
    the IO manager says of the object: the same metadata Dagster puts on the materialisation it
    records for the day when the step ends (a one-day run's, field for field)."""
    context.add_asset_metadata(dict(storage), partition_key=day)
    metadata = dict(step_asset_metadata(context, context.asset_key, day))
    context.log_event(
        dg.AssetMaterialization(asset_key=context.asset_key, partition=day, metadata=metadata)
    )


# -- checks ------------------------------------------------------------------------------------


def check_each_day(
    context: dg.AssetCheckExecutionContext,
    check: Callable[..., dg.AssetCheckResult | NothingToCheck],
    **inputs: Any,
) -> dg.AssetCheckResult | NothingToCheck:
    """Evaluate a one-day check for every day of the run.

    A one-day run returns that day's result. A range run records each day's evaluation under its
    own partition (so the UI shows a result per day, as day-by-day runs do), skips the days the
    checked asset was not stored for in this run, and returns one result for the range that
    passes only if every day checked passed and names the days that did not.

    A day the check has nothing to look at (`NothingToCheck`, for a check declared with
    `asset_defaults.skippable_daily_check`) records no evaluation, so Dagster shows it skipped,
    and logs why in one line (`skipped_checks.skip_message`); a range of such days only returns
    `NothingToCheck` too.

    A blocking check that fails some days of a range but not all fails those days only: the
    range's result is then a warning (an ERROR would stop every day downstream), and the steps
    downstream skip the failed days (`blocked_days`). If every day checked fails, the result is
    the failure itself, and nothing downstream runs, as for one day.
    """
    days = run_days(context)
    spec = next(iter(context.check_specs))
    if len(days) == 1:
        result = check(days[0], **inputs)
        if isinstance(result, NothingToCheck):
            _say_skipped(spec, days[0], result, context)
        return result
    op_context = context.op_execution_context
    skipped = blocked_days(op_context, upstream_of_check(spec), days, by_checks=False)
    checked: list[str] = []
    nothing: dict[str, str] = {}
    failed: list[tuple[str, dg.AssetCheckResult]] = []
    for day in [day for day in days if day not in skipped]:
        result = check(day, **inputs_of_day(inputs, day))
        if isinstance(result, NothingToCheck):
            _say_skipped(spec, day, result, context)
            nothing[day] = result.reason
            continue
        checked.append(day)
        op_context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
                partition=day,
                blocking=spec.blocking,
            )
        )
        if not result.passed:
            failed.append((day, result))
    if nothing and not checked:
        return NothingToCheck(named_days({**nothing, **skipped}))
    result = _range_result(spec, days, checked, failed, skipped)
    if not nothing:
        return result
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=result.severity,
        description=f"{result.description}; nothing to check: {named_days(nothing)}",
        metadata={**result.metadata, "days_nothing_to_check": len(nothing)},
    )


def _say_skipped(spec: dg.AssetCheckSpec, day: str, nothing: NothingToCheck, context: Any) -> None:
    if spec.blocking:  # it would skip what waits for it (asset_defaults.daily_asset_check)
        raise TypeError(f"{spec.name} is blocking: it must pass or fail for {day}, not skip")
    context.log.info(skip_message(spec.name, day, nothing.reason))


def _range_result(
    spec: dg.AssetCheckSpec,
    days: list[str],
    checked: list[str],
    failed: list[tuple[str, dg.AssetCheckResult]],
    skipped: Mapping[str, str],
) -> dg.AssetCheckResult:
    errors = [day for day, result in failed if result.severity == dg.AssetCheckSeverity.ERROR]
    # Blocking some days of a range, not all: a warning for the range, each day's own failure.
    days_only = spec.blocking and bool(errors) and len(errors) < len(checked)
    if days_only or not checked:
        severity = dg.AssetCheckSeverity.WARN
    else:
        severity = failed[0][1].severity if failed else dg.AssetCheckSeverity.ERROR
    if not checked:
        description = f"no day checked of {len(days)}: {named_days(skipped)}"
    elif failed:
        described = named_days({day: result.description or "failed" for day, result in failed})
        description = f"{len(failed)} of {len(checked)} days failed: {described}"
        if days_only:
            description += (
                f". Blocking for those days only: the steps downstream skip "
                f"{', '.join(errors[:NAMED_DAYS])}{' ...' if len(errors) > NAMED_DAYS else ''} "
                "in this run and run the other days"
            )
    elif skipped:
        description = f"all {len(checked)} days checked passed"
    else:
        description = f"all {len(checked)} days passed ({checked[0]}..{checked[-1]})"
    if skipped and checked:
        description += f"; not checked: {named_days(skipped)}"
    metadata: dict[str, Any] = {
        "days_checked": len(checked),
        "days_failed": len(failed),
        "failed_days": ", ".join(day for day, _ in failed),
    }
    if skipped:
        metadata["days_not_checked"] = len(skipped)
        metadata["not_checked_days"] = ", ".join(skipped)
    return dg.AssetCheckResult(
        passed=bool(checked) and not failed,
        severity=severity,
        description=description,
        metadata=metadata,
    )
