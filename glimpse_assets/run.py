"""`make run`: materialise every job for the last complete day (or `--day`, or a range with
`--days START..END`), then say where the outputs are. `--checks` re-runs only the checks of a day
on what is stored.

Runs go into the Dagster instance at DAGSTER_HOME, so `make ui` shows them afterwards. Dagster's
own log lines stay in the UI; the terminal gets one line per output, one per check and day
(passed, FAILED or skipped, with why), and, on a failure, one line that says what failed and
why, first. `--checks` on a day a domain has nothing stored says so, one line per domain, and
exits with 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import date

import dagster as dg

from glimpse_assets.settings import ConfigurationError
from glimpse_assets.skipped_checks import skips_in_run

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def domain_jobs(definitions: dg.Definitions, checks: bool) -> list[tuple[str, str]]:
    """(domain, its `<domain>_job` or `<domain>_checks_job`), in `DOMAINS` order: a new
    domain's jobs run with `make run` without a line here. (publish's asset runs in news_job.)"""
    from glimpse_assets.definitions import DOMAINS

    repository = definitions.get_repository_def()
    jobs = [(d, f"{d}_checks_job" if checks else f"{d}_job") for d in DOMAINS]
    return [(domain, name) for domain, name in jobs if repository.has_job(name)]


class DaysError(ValueError):
    """The days asked for are not partitions; the message says which days exist."""


def _instance() -> tuple[dg.DagsterInstance, str | None]:
    """The instance at DAGSTER_HOME (made absolute: Dagster needs that), or an ephemeral one and
    a notice saying so."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        os.environ["DAGSTER_HOME"] = os.path.abspath(home)
        return dg.DagsterInstance.get(), None
    notice = "DAGSTER_HOME is not set: runs are not kept for the UI (make run sets it)."
    return dg.DagsterInstance.ephemeral(), notice


def root_cause(error) -> str:
    """The first error below Dagster's wrappers, in one line: a StorageError's or an API's
    message, after the error's class name (not its module path)."""
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    lines = [line for line in error.message.strip().splitlines() if line.strip()]
    if not lines:
        return error.cls_name or "unknown error"
    # "glimpse_assets.storage.object_store.StorageError: ..." -> "StorageError: ..."
    return re.sub(r"^(?:[A-Za-z_][\w]*\.)+(?=[A-Za-z_]\w*: )", "", lines[0])


# What a one-day run prints under an output, from its metadata: the caption posted.
SHOWN_METADATA = {"social_post": ("caption_text", "caption")}


def report(
    result: dg.ExecuteInProcessResult, one_day: bool, instance: dg.DagsterInstance | None = None
) -> list[str]:
    """One line per output stored, then one per check and day: passed, FAILED (with why) or
    skipped (with why: nothing to look at, read from the run's log when `instance` is given).
    A range labels each line with its day."""
    lines, seen = [], set()
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if (event.asset_key, materialization.partition) in seen:
            continue  # a range run records each day as it is stored, and again at the end
        seen.add((event.asset_key, materialization.partition))
        uri = materialization.metadata.get("uri")
        day = "" if one_day else f" {materialization.partition}"
        name = event.asset_key.to_user_string()
        lines.append(f"  {name:<18}{day} {uri.value if uri else '-'}")
        shown = SHOWN_METADATA.get(name)
        if one_day and shown and shown[0] in materialization.metadata:
            lines.append(f"\n  {shown[1]}: {materialization.metadata[shown[0]].value}\n")
    evaluations = result.get_asset_check_evaluations()
    by_day = {e.check_name for e in evaluations if e.partition is not None}
    skips = skips_in_run(instance, result.run_id) if instance is not None else []
    by_day |= {check_name for check_name, _, _ in skips}
    for evaluation in evaluations:
        # A range records each day's result and one for the whole range: the days are shown.
        if not one_day and evaluation.partition is None and evaluation.check_name in by_day:
            continue
        status = "passed" if evaluation.passed else "FAILED"
        detail = f": {evaluation.description}" if not evaluation.passed else ""
        day = "" if one_day else f" {evaluation.partition or 'range'}"
        lines.append(f"  check {evaluation.check_name:<34}{day} {status}{detail}")
    for check_name, skipped_day, reason in skips:
        day = "" if one_day else f" {skipped_day}"
        lines.append(f"  check {check_name:<34}{day} skipped: {reason}")
    return lines


def nothing_stored(definitions: dg.Definitions, job: dg.JobDefinition, days: list[str]) -> bool:
    """Whether none of the assets a checks job checks has an object stored for any of `days`
    (the IO manager's layout: `<asset key path>/<day>.<format>`)."""
    from glimpse_assets.storage.formats import ALL_FORMATS
    from glimpse_assets.storage.io_manager import GlimpseIOManager, object_stem
    from glimpse_assets.storage.object_store import StorageError

    manager = definitions.resources.get("io_manager")
    if not isinstance(manager, GlimpseIOManager):
        return False  # another IO manager: let the checks say what they find
    store = manager.store
    checked = {key.asset_key for key in job.asset_layer.asset_graph.asset_check_keys}
    try:
        return not any(
            store.exists(f"{object_stem(key, day)}.{fmt.extension}")
            for key in checked
            for day in days
            for fmt in ALL_FORMATS
        )
    except StorageError:
        return False  # storage unreachable: the checks' own failures say so, one line each


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        f"step {event.step_key} failed: {root_cause(event.step_failure_data.error)}"
        for event in result.all_events
        if event.is_step_failure
    ]


def days_asked(partitions: dg.DailyPartitionsDefinition, day: str | None, days: str | None):
    """(first, last) partition keys, checked against the partitions that exist. A range is
    `START..END` or Dagster's own `START...END`; the default is the last complete UTC day."""
    from glimpse_assets.partitions import last_complete_day

    keys = partitions.get_partition_keys()
    default = last_complete_day()
    if default not in set(keys):
        start = partitions.start.date().isoformat()
        today = f"; --day {keys[-1]} runs today so far" if keys else ""
        raise DaysError(f"no complete day yet: GLIMPSE_START_DATE is {start}{today}")
    asked = days or day or default
    first, _, last = asked.replace("...", "..").partition("..")
    last = last or first
    for key in (first, last):
        try:
            date.fromisoformat(key)
        except ValueError:
            raise DaysError(f"{key!r} is not a day like {default}") from None
        if key not in set(keys):
            raise DaysError(
                f"no partition {key}: the days run from {keys[0]} (GLIMPSE_START_DATE) to "
                f"{keys[-1]} (today, UTC)"
            )
    if first > last:
        raise DaysError(f"the range {first}..{last} ends before it starts")
    return first, last


def main(argv: list[str] | None = None, definitions: dg.Definitions | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day", help="the day (YYYY-MM-DD); default: the last complete UTC day")
    parser.add_argument(
        "--days", help="a range of days, START..END (or START...END), in one run per job"
    )
    parser.add_argument("--checks", action="store_true", help="only the checks, on what is stored")
    args = parser.parse_args(argv)
    if args.day and args.days:
        print("make run failed: give --day (one day) or --days (a range), not both")
        return 2
    try:
        if definitions is None:
            from glimpse_assets.definitions import defs

            definitions = defs()
        from glimpse_assets.partitions import daily_partitions

        first, last = days_asked(daily_partitions, args.day, args.days)
    except (ConfigurationError, DaysError) as error:
        print(f"make run failed: {error}")
        return 2
    instance, notice = _instance()
    if first == last:
        when, arg, run_tags = first, f"DAY={first}", {"dagster/partition": first}
    else:
        when, arg = f"{first}..{last}", f"DAYS={first}..{last}"
        run_tags = {RANGE_START_TAG: first, RANGE_END_TAG: last}
    problems: list[str] = []
    done: set[dg.AssetKey] = set()
    outputs: list[str] = []
    missing: list[str] = []
    days = daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    for domain, job_name in domain_jobs(definitions, checks=args.checks):
        job = definitions.resolve_job_def(job_name)
        if args.checks and nothing_stored(definitions, job, days):
            missing.append(f"{domain}: nothing stored for {when}; run `make run {arg}` first")
            continue
        # Each asset runs once, even where two jobs would both select it.
        todo = sorted(set(job.asset_layer.executable_asset_keys) - done)
        result = job.execute_in_process(
            instance=instance,
            tags=run_tags,
            asset_selection=todo or None,
            raise_on_error=False,
            run_config=QUIET,
        )
        done.update(e.asset_key for e in result.get_asset_materialization_events())
        outputs += [f"{job_name} for {when}:", *report(result, first == last, instance)]
        problems += [f"{job_name} for {when}: {line}" for line in failures(result)]
    if problems:
        print(f"make run failed: {problems[0]}")
        print("\n".join(problems[1:]))
        print()
    if missing:
        print("\n".join(missing))
        if not outputs:
            return 2
        print()
    print("\n".join(outputs))
    if notice:
        print(f"\n{notice}")
    print("\nSee the lineage and every run in the Dagster UI: make ui")
    return 1 if problems else 2 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
