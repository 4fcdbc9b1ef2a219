"""`make run`: materialise every job for the last complete day (or `--day`, or a range with
`--days START..END`), then say where the outputs are. `--checks` re-runs only the checks of a day
on what is stored.

Runs go into the Dagster instance at DAGSTER_HOME, so `make ui` shows them afterwards. Dagster's
own log lines stay in the UI; the terminal gets one line per output and, on a failure, one line
that says what failed and why, first.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

import dagster as dg

from glimpse_assets.settings import ConfigurationError

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def domain_jobs(definitions: dg.Definitions, checks: bool) -> list[str]:
    """Each domain's `<domain>_job` (or `<domain>_checks_job`), in `DOMAINS` order: a new
    domain's jobs run with `make run` without a line here. (publish's asset runs in news_job.)"""
    from glimpse_assets.definitions import DOMAINS

    repository = definitions.get_repository_def()
    names = [f"{domain}_checks_job" if checks else f"{domain}_job" for domain in DOMAINS]
    return [name for name in names if repository.has_job(name)]


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
    """The first error below Dagster's wrappers: a StorageError or an API's message."""
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    lines = [line for line in error.message.strip().splitlines() if line.strip()]
    return lines[0] if lines else error.cls_name or "unknown error"


def report(result: dg.ExecuteInProcessResult, one_day: bool) -> list[str]:
    lines, seen = [], set()
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        if (event.asset_key, materialization.partition) in seen:
            continue  # a range run records each day as it is stored, and again at the end
        seen.add((event.asset_key, materialization.partition))
        uri = materialization.metadata.get("uri")
        day = "" if one_day else f" {materialization.partition}"
        lines.append(f"  {event.asset_key.to_user_string():<18}{day} {uri.value if uri else '-'}")
        if one_day and "prompt" in materialization.metadata:
            lines.append(f"\n  prompt: {materialization.metadata['prompt'].value}\n")
    for evaluation in result.get_asset_check_evaluations():
        status = "passed" if evaluation.passed else "FAILED"
        detail = f": {evaluation.description}" if not evaluation.passed else ""
        lines.append(f"  check {evaluation.check_name:<32} {status}{detail}")
    return lines


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
        when, run_tags = first, {"dagster/partition": first}
    else:
        when, run_tags = f"{first}..{last}", {RANGE_START_TAG: first, RANGE_END_TAG: last}
    problems: list[str] = []
    done: set[dg.AssetKey] = set()
    outputs: list[str] = []
    for job_name in domain_jobs(definitions, checks=args.checks):
        job = definitions.resolve_job_def(job_name)
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
        outputs += [f"{job_name} for {when}:", *report(result, first == last)]
        problems += [f"{job_name} for {when}: {line}" for line in failures(result)]
    if problems:
        print(f"make run failed: {problems[0]}")
        print("\n".join(problems[1:]))
        print()
    print("\n".join(outputs))
    if notice:
        print(f"\n{notice}")
    print("\nSee the lineage and every run in the Dagster UI: make ui")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
