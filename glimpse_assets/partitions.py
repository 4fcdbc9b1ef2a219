"""The one daily partitions definition every Glimpse asset shares."""

import os
import warnings
from datetime import date

import dagster as dg

DEFAULT_START_DATE = "2026-01-01"


def start_date_from_env() -> str:
    """`GLIMPSE_START_DATE` (YYYY-MM-DD), validated so a typo fails at load time with its name."""
    raw = os.environ.get("GLIMPSE_START_DATE", "").strip() or DEFAULT_START_DATE
    try:
        date.fromisoformat(raw)
    except ValueError as error:
        raise ValueError(
            f"GLIMPSE_START_DATE must be a date like 2026-01-01, got {raw!r}"
        ) from error
    return raw


# end_offset=0: the newest partition is the last complete UTC day, never today.
daily_partitions = dg.DailyPartitionsDefinition(start_date=start_date_from_env(), timezone="UTC")

# Partitioned asset checks (one result per day, shown per partition in the UI) are a Dagster
# preview feature in 1.13; every check here relies on it knowingly, so only that warning is
# silenced.
warnings.filterwarnings(
    "ignore", message=".*partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
