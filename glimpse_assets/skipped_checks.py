"""A check with nothing to look at for a day is skipped, never "passed" on nothing.

A one-day check function returns `NothingToCheck(reason)` instead of an `AssetCheckResult` when
the day gives it nothing to check (no main story, no labelled query, fewer than two stories...).
The check then records no evaluation for that day: it is declared with
`asset_defaults.skippable_daily_check` (Dagster's `@multi_asset_check(can_subset=True)`, whose
result is optional), so Dagster shows the day's check as skipped (planned, run, no result), and
the step's log says why in one line (`skip_message`), which `make run` reads back
(`skips_in_run`) to print the check as skipped with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SKIP_LINE = re.compile(r"^check (?P<check>\S+) skipped for (?P<day>\S+): (?P<reason>.+)$")


@dataclass(frozen=True)
class NothingToCheck:
    """A day with nothing for a check to look at; `reason` says what was missing."""

    reason: str


def skip_message(check_name: str, day: str, reason: str) -> str:
    """The one log line that records a skipped check (read back by `skips_in_run`)."""
    flat = " ".join(reason.split())
    return f"check {check_name} skipped for {day}: {flat}"


def parse_skip_message(text: str) -> tuple[str, str, str] | None:
    """(check name, day, reason) of a `skip_message` line, or None for any other line."""
    found = SKIP_LINE.match(text or "")
    return (found["check"], found["day"], found["reason"]) if found else None


def skips_in_run(instance: Any, run_id: str) -> list[tuple[str, str, str]]:
    """Every check the run skipped for a day, as (check name, day, reason), in log order."""
    skips = []
    for entry in instance.all_logs(run_id):
        if entry.dagster_event is None and (found := parse_skip_message(entry.user_message)):
            skips.append(found)
    return skips
