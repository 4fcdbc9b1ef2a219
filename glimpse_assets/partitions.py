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

# Backfill policies are a Dagster beta API; Glimpse relies on them knowingly.
warnings.filterwarnings("ignore", message=".*backfill_policy", category=dg.BetaWarning)

# Every daily asset backfills with this one policy: runs of at most 30 days, each run holding
# every asset of its lineage for those days. Why one policy for all of them:
# - Dagster puts two assets in one backfill run only if they have the same policy (and the same
#   partitions definition, and a simple partition mapping). With single_run for the cheap assets
#   and chunks for the provider-bound ones, each change of policy along a lineage was a stage:
#   the assets below waited for the assets above to be materialised over the whole range, seen
#   by the backfill daemon, which looks every 30 s (fixed in Dagster 1.13). A year of every
#   domain was then a 365-day single run on one core (raw_news..clustered_rides), then the
#   chunks, then rides_report, then its pages.
# - Chunks of one lineage run side by side: a year is 13 runs a lineage, which the 2 cores and
#   the run queue take as they can, instead of a single run that uses one core while the other
#   waits.
# - 30 days a run keeps what the provider-bound assets had: a failure costs at most 30 days of
#   calls (those already answered come back from the cache), and every step that calls a
#   provider stays in the "llm" pool (at most 2 at once across every run, dagster.yaml), so 13
#   runs (at most 10 at once: Dagster's default concurrency.runs.max_concurrent_runs) cannot
#   flood a provider. Publishing is exactly-once per day whatever the chunk
#   (publish/exactly_once.py claims each post before it is made).
# - A range never holds more than one day in memory (ranges.py), so a chunk costs one run's
#   start-up (about 3 s here from launch to RUN_START: the process and the code location; then
#   the steps' first imports), paid 13 times a year and lineage rather than once.
# Measured with benchmarks/backfill.py (BENCHMARKS.md).
BACKFILL_DAYS_PER_RUN = 30
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_DAYS_PER_RUN)

# A whole range in one run: no Glimpse asset uses it (it would split a lineage in stages, see
# above); tests of range runs use it for assets of their own.
SINGLE_RUN_BACKFILL_POLICY = dg.BackfillPolicy.single_run()

# Partitioned asset checks (one result per day, shown per partition in the UI) are a Dagster
# preview feature in 1.13; every check here relies on it knowingly, so only that warning is
# silenced.
warnings.filterwarnings(
    "ignore", message=".*partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
