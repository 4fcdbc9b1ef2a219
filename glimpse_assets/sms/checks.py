"""Asset checks for the sms lineage."""

import dagster as dg

from glimpse_assets.asset_defaults import daily_asset_check
from glimpse_assets.ranges import check_each_day
from glimpse_assets.sms.assets import sms_digest
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


sms_checks = [sms_digest_delivered]
