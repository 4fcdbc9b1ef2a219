"""What starts the sms chain: the day's post. `sms_after_post_sensor` runs sms_job for a day
once a one-day news_job run has stored its social_post (on when GLIMPSE_SMS=on)."""

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.news.after_news import after_news_sensor
from glimpse_assets.sms.assets import SMS_GROUP, sms_assets

sms_job = dg.define_asset_job(
    "sms_job",
    selection=dg.AssetSelection.groups(SMS_GROUP),
    description="The day's text to every subscriber, once, with its delivery check.",
)

sms_checks_job = checks_job("sms", sms_assets)


def build_sms_after_post_sensor(default_status: dg.DefaultSensorStatus) -> dg.SensorDefinition:
    return after_news_sensor(
        "sms_after_post_sensor", sms_job, dg.AssetKey("social_post"), default_status
    )
