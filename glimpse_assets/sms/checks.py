"""Asset checks for the sms lineage."""

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset_check
from glimpse_assets.ranges import check_each_day
from glimpse_assets.skipped_checks import NothingToCheck
from glimpse_assets.sms.assets import answers_given, sms_digest
from glimpse_assets.storage.resource import ObjectStoreResource


@daily_asset_check(asset=sms_digest)
def sms_digest_delivered(
    context: dg.AssetCheckExecutionContext, sms_digest, object_store: ObjectStoreResource
) -> dg.AssetCheckResult:
    """A warning for each text Twilio's status callbacks report undelivered or failed."""
    from glimpse_assets.sms.steps import delivery_check

    return check_each_day(
        context,
        lambda day, sms_digest: delivery_check(day, sms_digest, object_store.store),
        sms_digest=sms_digest,
    )


@daily_asset_check(asset=answers_given)
def answers_are_grounded(
    context: dg.AssetCheckExecutionContext, answers_given
) -> dg.AssetCheckResult | NothingToCheck:
    """Answer quality, measured daily: each answer's sentences held to the hits it was made from
    by MiniLM similarity (a sentence is supported at >= 0.55); the mean share of supported
    sentences, wanted >= 0.9, every answer at least 1/2; every answer ends with the title and
    day of one of its sources, and fits an SMS (320 characters). A warning otherwise; skipped on
    a day without answers."""
    from glimpse_assets.sms.quality import answers_quality_check

    return check_each_day(context, answers_quality_check, answers_given=answers_given)


sms_checks = [sms_digest_delivered]
# Quality measured daily (glimpse_assets/quality): registered beside sms_checks.
sms_quality_checks = [answers_are_grounded]
