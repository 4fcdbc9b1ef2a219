"""The sms chain as jobs: the day's text, and its delivery check alone. Declarative automation
runs it for a day once a one-day run has stored the day's social_post, with GLIMPSE_SMS=on
(`automation.follows_upstream_day`)."""

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.sms.assets import SMS_GROUP, sms_assets

sms_job = dg.define_asset_job(
    "sms_job",
    selection=dg.AssetSelection.groups(SMS_GROUP),
    description="The day's text to every subscriber, once, with its delivery check.",
)

sms_checks_job = checks_job("sms", sms_assets)
