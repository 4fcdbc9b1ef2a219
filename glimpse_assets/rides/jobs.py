"""The rides chain as jobs: the whole rides group for a day, and its checks alone.

raw_rides reads the day's raw_news headlines, but raw_news belongs to the news chain, so
rides_job does not include raw_news. Declarative automation runs the chain for a day once a
one-day run has stored that day's raw_news (`automation.follows_upstream_day`); a day without
news still gets its rides report. Backfill rides with a rides backfill, which reads the stored
raw_news of each day.
"""

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.rides.assets import RIDES_GROUP, rides_assets

rides_job = dg.define_asset_job(
    "rides_job",
    selection=dg.AssetSelection.groups(RIDES_GROUP),
    description="The rides lineage for one day, with its checks; reads the stored raw_news.",
)

rides_checks_job = checks_job("rides", rides_assets)
