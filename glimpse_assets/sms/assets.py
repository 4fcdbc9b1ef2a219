"""sms_digest: the day's glimpse by text message, once per subscriber and day (thin asset)."""

from functools import partial

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset
from glimpse_assets.automation import follows_upstream_day
from glimpse_assets.publish.assets import claim_owner
from glimpse_assets.ranges import for_each_day
from glimpse_assets.sms.resources import SmsSenderResource
from glimpse_assets.storage.exactly_once import LEDGER_PREFIX
from glimpse_assets.storage.resource import ObjectStoreResource

SMS_GROUP = "sms"


@daily_asset(
    domain=SMS_GROUP,
    kinds={"twilio", "json"},
    ins={"social_post": dg.AssetIn()},
    # Once a one-day run has stored the day's social_post (automation.py), with GLIMPSE_SMS=on;
    # a day that is not over is held (sms.steps).
    automation_condition=follows_upstream_day(),
    description="The day's caption (and its picture as MMS when it has a public URL) to every "
    "subscriber once; what happened to each person, by salted id. Nothing is sent with "
    "GLIMPSE_SMS=off.",
)
def sms_digest(
    context: dg.AssetExecutionContext,
    social_post,
    sms_sender: SmsSenderResource,
    object_store: ObjectStoreResource,
):
    from glimpse_assets.sms.steps import send_day

    send = partial(
        send_day,
        context,
        sms_sender,
        object_store.store,
        object_store.records(LEDGER_PREFIX),
        claim_owner(context),
    )
    return for_each_day(context, send, social_post=social_post)


sms_assets = [sms_digest]
