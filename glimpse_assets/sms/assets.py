"""The sms lineage (thin assets): sms_digest, the day's glimpse by text message, once per
subscriber and day; answers_given, the day's answers (SMS replies and `GET /ask`) from the
answer log `glimpse serve` keeps (`sms.answer_log`), measured by `answers_are_grounded`."""

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


@daily_asset(
    domain=SMS_GROUP,
    kinds={"pandas", "parquet"},
    description="The answers given on the day (UTC), by SMS and GET /ask, one row each: the "
    "text, its kind and model, and the hits it was made from (JSON), as `glimpse serve` kept "
    "them under _answers/<day>/; never the question or who asked. Counts by channel and kind.",
)
def answers_given(context: dg.AssetExecutionContext, object_store: ObjectStoreResource):
    from glimpse_assets.sms.answers_table import answers_for_day

    return for_each_day(context, partial(answers_for_day, context, object_store.store))


sms_assets = [sms_digest, answers_given]
