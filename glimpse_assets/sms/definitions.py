"""The sms domain: the daily text (`sms_digest`), its delivery check, its job, the sensor that
starts it after the day's post, and its resource (`sms_sender`). The inbound side (questions
by SMS) is part of `glimpse serve`."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.domains import lazy_defs
from glimpse_assets.resources import SharedResources
from glimpse_assets.sms.assets import sms_assets
from glimpse_assets.sms.checks import sms_checks
from glimpse_assets.sms.resources import sms_resources
from glimpse_assets.sms.sensors import build_sms_after_post_sensor, sms_checks_job, sms_job
from glimpse_assets.sms.settings import SmsSettings


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    settings = SmsSettings.from_env(env)
    status = dg.DefaultSensorStatus.RUNNING if settings.enabled else dg.DefaultSensorStatus.STOPPED
    return dg.Definitions(
        assets=sms_assets,
        asset_checks=sms_checks,
        jobs=[sms_job, sms_checks_job],
        sensors=[build_sms_after_post_sensor(status)],
        resources={**shared.resources, **sms_resources(settings)},
    )


__getattr__ = lazy_defs(build_defs)
