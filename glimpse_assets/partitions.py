"""The one daily partitions definition every Glimpse asset shares, and how ranges of it run."""

import warnings

import dagster as dg

from glimpse_assets.settings import PartitionSettings

# The start date (PartitionSettings) is read here, once: asset definitions take their partitions
# when their module is imported. end_offset=0: the newest partition is the last complete UTC day.
START_DATE = PartitionSettings.from_env().start_date
daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE.isoformat(), timezone="UTC")
# The search chain indexes what is ingested today as well, so its days run to today (the day so
# far); the news chain's days end with the last complete one.
daily_partitions_to_today = dg.DailyPartitionsDefinition(
    start_date=START_DATE.isoformat(), timezone="UTC", end_offset=1
)

# Backfill policies are a Dagster beta API; Glimpse relies on them knowingly. A job mixing both
# policies (news_job, rides_job) backfills in the smaller chunks, as Dagster warns at every load.
warnings.filterwarnings("ignore", message=".*backfill_policy", category=dg.BetaWarning)
warnings.filterwarnings("ignore", message=".*varying BackfillPolicies", category=UserWarning)

# The cheap, deterministic assets backfill a whole range in one run: one start-up, one step per
# asset, one object per day written by the IO manager.
SINGLE_RUN_BACKFILL_POLICY = dg.BackfillPolicy.single_run()

# Days per run for the assets that call a provider (and for publishing). A backfill goes through
# them 30 days at a time: each run pays one process start-up (~4 s) and the daemon's queue, so
# a year is 13 runs per chain rather than 365 (or 53 at a week: measured 12 min for a year,
# against under 10 at 30 days, see BENCHMARKS.md). Bounded, so a failure costs at most 30 days
# of calls, and those already answered come back from the cache. Their steps share the "llm"
# pool, so at most 2 chunks call providers at once.
PROVIDER_DAYS_PER_RUN = 30
PROVIDER_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=PROVIDER_DAYS_PER_RUN)

# Partitioned asset checks (one result per day, shown per partition in the UI) are a Dagster
# preview feature in 1.13; every check here relies on it knowingly, so only that warning is
# silenced.
warnings.filterwarnings(
    "ignore", message=".*partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
