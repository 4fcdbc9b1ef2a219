"""The rides lineage: raw_rides -> clustered_rides -> anomaly_summaries -> rides_report
(-> rides_report_page). raw_rides also reads the day's raw_news headlines, and the page depends
on the previous 7 days of stored clustered_rides (`HISTORY_DAYS`) for its comparison.

As in the news lineage, each asset's logic is written for one day (`rides.steps`, imported when
the step runs) and run by `for_each_day`, so one definition serves a daily run and a backfill
range (see `ranges`).
"""

from datetime import date

import dagster as dg
from pydantic import Field

from glimpse_assets.asset_defaults import daily_asset
from glimpse_assets.automation import follows_upstream_day, with_its_chain
from glimpse_assets.llm.policy import LLMStepConfig
from glimpse_assets.providers.base import TextProvider
from glimpse_assets.ranges import for_each_day, nothing_stored
from glimpse_assets.rides.sources import RidesSource
from glimpse_assets.storage.resource import ObjectStoreResource

RIDES_GROUP = "rides"
HISTORY_DAYS = 7

# The page compares its day with the 7 days before it, read from stored clustered_rides by the
# step (`steps.history_days`). That window is not a partition mapping: Dagster follows a mapping
# downstream, so a backfill of D1..Dn would also target the pages of the 7 days after Dn, which
# it cannot make without their reports, and end Failed. A day of the window never stored is left
# out of the comparison; the page of a day in a range reads the days before it in the same range,
# stored earlier in that run.


class RawRidesConfig(dg.Config):
    rides_per_day: int | None = Field(
        default=None, ge=0, description="Overrides GLIMPSE_RIDES_PER_DAY for simulated rides."
    )


class ClusteringConfig(dg.Config):
    eps: float = Field(default=0.3, gt=0, description="DBSCAN radius, in standard deviations.")
    min_samples: int = Field(default=10, ge=1, description="DBSCAN core point threshold.")


@daily_asset(
    domain=RIDES_GROUP,
    kinds={"pandas", "parquet"},
    # Once a one-day run has stored the day's raw_news (news_job every morning), with the rest of
    # the chain in the same run: see automation.py.
    automation_condition=follows_upstream_day(),
    description="The day's taxi rides, with the news, weather and traffic each one went through "
    "and where each came from; rides with a NaN or infinite distance or time are dropped.",
)
def raw_rides(
    context: dg.AssetExecutionContext, config: RawRidesConfig, raw_news, rides_source: RidesSource
):
    from glimpse_assets.rides.steps import rides_for_day

    def rides_of(day: date, raw_news):
        return rides_for_day(context, rides_source, day, raw_news, config.rides_per_day)

    return for_each_day(context, rides_of, raw_news=raw_news)


@daily_asset(
    domain=RIDES_GROUP,
    kinds={"pandas", "numpy", "parquet"},
    automation_condition=with_its_chain(),
    description="Every ride labelled by DBSCAN on standardised distance and time; -1 = anomaly.",
)
def clustered_rides(context: dg.AssetExecutionContext, config: ClusteringConfig, raw_rides):
    from glimpse_assets.rides.steps import cluster_day

    def cluster(day: date, raw_rides):
        return cluster_day(context, raw_rides, day, config.eps, config.min_samples)

    return for_each_day(context, cluster, raw_rides=raw_rides)


@daily_asset(
    domain=RIDES_GROUP,
    kinds={"openai", "pandas", "parquet"},
    calls_a_model=True,
    automation_condition=with_its_chain(),
    description="For each anomalous ride, a summary of at most 3 sentences of its conditions, "
    "and what wrote it; one provider call per distinct context not already cached.",
)
def anomaly_summaries(
    context: dg.AssetExecutionContext,
    config: LLMStepConfig,
    clustered_rides,
    text_provider: TextProvider,
    rides_source: RidesSource,
):
    from glimpse_assets.rides.steps import summaries_for_day

    def summarise(day: date, clustered_rides):
        return summaries_for_day(context, clustered_rides, text_provider, rides_source, config, day)

    return for_each_day(context, summarise, clustered_rides=clustered_rides)


@daily_asset(
    domain=RIDES_GROUP,
    kinds={"pandas", "parquet"},
    automation_condition=with_its_chain(),
    description="The morning table for dashboards: every labelled ride with its summary.",
)
def rides_report(context: dg.AssetExecutionContext, clustered_rides, anomaly_summaries):
    from glimpse_assets.rides.report import report_table

    def report(day: date, clustered_rides, anomaly_summaries):
        return report_table(clustered_rides, anomaly_summaries)

    return for_each_day(
        context, report, clustered_rides=clustered_rides, anomaly_summaries=anomaly_summaries
    )


@daily_asset(
    domain=RIDES_GROUP,
    kinds={"pandas", "pillow", "html"},
    automation_condition=with_its_chain(),
    description="The morning report as a page: counts, the rate against the previous 7 days, "
    "the plot, and the summaries with where each condition came from.",
    # The previous 7 days of clustered_rides, read from storage by the step (only their
    # is_anomaly column is decoded): history, not a partition dependency (see HISTORY_DAYS).
    output_required=False,
)
def rides_report_page(
    context: dg.AssetExecutionContext,
    rides_report,
    rides_source: RidesSource,
    object_store: ObjectStoreResource,
):
    from glimpse_assets.rides.steps import report_page_for_day

    def page(day: date, rides_report):
        return report_page_for_day(
            context,
            rides_report,
            rides_source.city,
            day,
            object_store.store,
            clustered_rides.key,
            HISTORY_DAYS,
        )

    result = for_each_day(context, page, rides_report=rides_report)
    if not nothing_stored(result):
        yield dg.Output(result)


rides_assets = [raw_rides, clustered_rides, anomaly_summaries, rides_report, rides_report_page]
