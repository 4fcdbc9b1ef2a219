"""The one daily partitions definition every Glimpse asset shares, and its one backfill policy."""

import warnings
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import dagster as dg

from glimpse_assets.settings import ConfigurationError, PartitionSettings


@cache
def days_from(start: date) -> dg.DailyPartitionsDefinition:
    """The daily partitions starting at `start` (one object per start date).

    Every daily asset has these partitions, so the whole graph runs as one: one day, a range or a
    year of every asset in one run or one backfill, from the UI, the CLI or a schedule.
    end_offset=1: the newest partition is today, the UTC day so far. Search and stories need it
    (a document posted today is indexed today; today's activity gets its story today, started by
    their sensors within minutes). The schedules run each finished day (yesterday) in the
    morning; nothing starts today's news by itself, and the outside world (the post, the daily
    text) never hears of a day before it is over (`day_is_over`: publish and sms hold it).
    """
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC", end_offset=1)


def days_for(env) -> dg.DailyPartitionsDefinition:
    """The daily partitions `env`'s GLIMPSE_START_DATE asks for (for a command that reads an
    instance without defining assets)."""
    return days_from(PartitionSettings.from_env(env).start_date)


def __getattr__(name: str) -> Any:
    """`daily_partitions` and `START_DATE`, read from the settings when first asked for (when
    the code location defines its assets), not when this module is imported."""
    if name == "START_DATE":
        return PartitionSettings.from_env().start_date
    if name == "daily_partitions":
        return days_from(PartitionSettings.from_env().start_date)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_start_date(env) -> None:
    """Fail with a one-line error when `env` asks for a start date other than the one the assets
    were defined with: asset definitions take their partitions once per process."""
    wanted = PartitionSettings.from_env(env).start_date
    defined = PartitionSettings.from_env().start_date
    if "GLIMPSE_START_DATE" in env and wanted != defined:
        raise ConfigurationError(
            f"GLIMPSE_START_DATE={wanted.isoformat()!r} differs from {defined.isoformat()}, the "
            "start the assets of this process were defined with: set it before Glimpse starts"
        )


def today_utc() -> date:
    return datetime.now(UTC).date()


def day_is_over(day: date, today: date | None = None) -> bool:
    """Whether the UTC day `day` has ended (today's partition is the day so far)."""
    return day < (today or today_utc())


# Why a post or a text of today's partition is not sent yet (publish and sms).
HELD = "held: the day is not over (UTC)"


def last_complete_day(today: date | None = None) -> str:
    """The newest partition whose day has ended: what `make run` and the schedules run."""
    return ((today or today_utc()) - timedelta(days=1)).isoformat()


# Backfill policies are a Dagster beta API; Glimpse relies on them knowingly.
warnings.filterwarnings("ignore", message=".*backfill_policy", category=dg.BetaWarning)

# Every daily asset backfills with this one policy: a range of days is one run. Why:
# - `dagster asset materialize --partition-range A...B` accepts only single-run assets, and the
#   CLI is one of the ways a user runs a range.
# - Dagster puts a parent and its child in one backfill run only with the same policy, the same
#   partitions definition and an identity mapping: with all three shared, a backfill of every
#   asset over any range is ONE run that holds the whole graph, planned at once by the daemon
#   (no stage waits for the daemon's next 30 s iteration to see its parents' days).
# - A range never holds more than one day in memory (ranges.py), and a long range uses both
#   cores: such a run executes its steps side by side (executors.py), each lineage in its own
#   process, each step one day at a time.
# - Provider-bound steps stay in the "llm" pool (at most 2 at once, dagster.yaml); a failed day
#   stops its step at that day, the days before it are stored and recorded, and a re-execution
#   from failure reuses them (answers already paid for come back from the LLM cache).
#   Publishing is exactly-once per day whatever the run (storage/exactly_once.py).
# Measured with benchmarks/backfill.py (BENCHMARKS.md).
BACKFILL_POLICY = dg.BackfillPolicy.single_run()

# Partitioned asset checks (one result per day, shown per partition in the UI) are a Dagster
# preview feature in 1.13; every check here relies on it knowingly, so only that warning is
# silenced.
warnings.filterwarnings(
    "ignore", message=".*partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
