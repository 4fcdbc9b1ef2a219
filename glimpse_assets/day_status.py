"""What `glimpse status` shows of a window of days, from the Dagster instance: a domain's day
is `stored` when every daily asset of the domain is materialised for it, `failed` when the last
attempt at one of them failed, `running` while a run is at one, else `missing` (some or none
stored). Read with `DagsterInstance.get_status_by_partition`, Dagster's public per-partition
status (the UI's). Knows no domain: the assembler `cli.py` passes each domain's assets in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from glimpse_assets.commands import CommandError, parse_day

DEFAULT_DAYS = 7


@dataclass
class DomainDays:
    assets: list[str]
    stored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    newest_stored: str | None = None


def window(keys: list[str], asked: str | None, today: date) -> list[str]:
    """The partition keys of `--days A..B` (each end a partition), default the last
    `DEFAULT_DAYS` up to today."""
    if not keys:
        raise CommandError("no day is a partition yet (GLIMPSE_START_DATE is after today)")
    if asked is None:
        last = min(today.isoformat(), keys[-1])
        return [key for key in keys if key <= last][-DEFAULT_DAYS:]
    first_text, _, last_text = asked.replace("...", "..").partition("..")
    first = parse_day(first_text, "--days' first day")
    last = parse_day(last_text, "--days' last day") if last_text else first
    if first > last:
        raise CommandError(f"--days {first}..{last} ends before it starts")
    for day in (first, last):
        if day.isoformat() not in set(keys):
            raise CommandError(
                f"{day} is not a partition: the days run from {keys[0]} to {keys[-1]}"
            )
    return [key for key in keys if first.isoformat() <= key <= last.isoformat()]


def day_state(statuses: list[Any]) -> str:
    """One domain's day from its assets' `AssetPartitionStatus` (None: never attempted)."""
    names = [status.value if status is not None else None for status in statuses]
    if "FAILED" in names:
        return "failed"
    if "IN_PROGRESS" in names:
        return "running"
    if names and all(name == "MATERIALIZED" for name in names):
        return "stored"
    return "missing"


def instance_at(env: Mapping[str, str]) -> tuple[Any | None, str]:
    """The instance at DAGSTER_HOME with its runs, or None and why there is nothing to read."""
    import dagster as dg

    home = env.get("DAGSTER_HOME", "").strip()
    if not home:
        return None, (
            "nothing has run that can be read: DAGSTER_HOME is not set (make run and make ui "
            "keep their runs in .dagster)"
        )
    home = os.path.abspath(home)
    if not os.path.isdir(home):
        return None, f"nothing has run yet: no Dagster instance at {home}"
    os.environ["DAGSTER_HOME"] = home  # Dagster reads it there, and needs it absolute
    instance = dg.DagsterInstance.get()
    if not instance.get_run_records(limit=1):
        return None, f"nothing has run yet in the Dagster instance at {home}"
    return instance, f"from the Dagster instance at {home}"


def domains_status(instance, assets: dict[str, list], partitions, days: list[str]) -> dict:
    every_day = partitions.get_partition_keys()
    status = {}
    for domain, keys in assets.items():
        found = DomainDays(assets=[key.to_user_string() for key in keys])
        if instance is not None and keys:
            by_asset = [
                instance.get_status_by_partition(key, every_day, partitions) or {} for key in keys
            ]
            states = {day: day_state([each.get(day) for each in by_asset]) for day in every_day}
            for day in days:
                getattr(found, states[day]).append(day)
            stored = [day for day, state in states.items() if state == "stored"]
            found.newest_stored = max(stored) if stored else None
        elif keys:
            found.missing = list(days)
        status[domain] = found
    return status


def day_ranges(days: list[str]) -> str:
    """`2026-03-01..2026-03-03, 2026-03-05`: runs of consecutive days."""
    runs: list[list[str]] = []
    for day in days:
        if runs and date.fromisoformat(runs[-1][-1]) + timedelta(days=1) == date.fromisoformat(day):
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}..{run[-1]}" for run in runs)


def table(days: list[str], source: str, domains: dict[str, DomainDays], facts: dict) -> str:
    lines = [f"Days {days[0]}..{days[-1]} (UTC), {source}", ""]
    lines.append(f"{'domain':<9}{'stored':>7}{'failed':>8}{'missing':>9}  newest stored")
    for name, found in domains.items():
        if not found.assets:
            lines.append(f"{name:<9}{'-':>7}{'-':>8}{'-':>9}  (no daily assets: switched off)")
            continue
        lines.append(
            f"{name:<9}{len(found.stored):>7}{len(found.failed):>8}"
            f"{len(found.missing) + len(found.running):>9}  {found.newest_stored or '-'}"
        )
        for state in ("failed", "running", "missing"):
            if getattr(found, state) and len(getattr(found, state)) < len(days):
                lines.append(f"{'':<9}{state}: {day_ranges(getattr(found, state))}")
    rows = facts["search_index_rows"]
    lines += ["", f"search index: {'unavailable' if rows is None else f'{rows} rows'}"]
    spend = facts["llm_spend_today"]
    if spend is None:
        lines.append("LLM spend today: unavailable")
    else:
        limit = f" of ${spend['budget_usd']:.2f}" if spend["budget_usd"] is not None else ""
        reserved = f", ${spend['reserved_usd']:.4f} reserved" if spend["reserved_usd"] else ""
        lines.append(
            f"LLM spend today ({spend['day']}, UTC): ${spend['spent_usd']:.4f}{limit}, "
            f"{spend['paid_calls']} paid calls{reserved}"
        )
    return "\n".join(lines)
