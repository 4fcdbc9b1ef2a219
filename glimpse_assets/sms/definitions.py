"""The sms domain: the daily text (`sms_digest`, automated after the day's post when the channel
is on), its delivery check, the day's answers (`answers_given`, every morning) and their quality
check, its jobs, and its resource (`sms_sender`). The inbound side (questions by SMS, and the
answer log `GET /ask` shares) is part of `glimpse serve`."""

from collections.abc import Mapping

import dagster as dg

from glimpse_assets.automation import automation_sensor, bind_automation
from glimpse_assets.domains import domain_defs
from glimpse_assets.resources import SharedResources
from glimpse_assets.sms.assets import sms_assets
from glimpse_assets.sms.checks import sms_checks, sms_quality_checks
from glimpse_assets.sms.jobs import answers_daily_schedule, answers_job, sms_checks_job, sms_job
from glimpse_assets.sms.resources import sms_resources
from glimpse_assets.sms.settings import SmsSettings


def build_defs(env: Mapping[str, str], shared: SharedResources) -> dg.Definitions:
    settings = SmsSettings.from_env(env)
    # With the channel off, nothing starts the sms chain (a run by hand stores "off").
    store = shared.object_store if settings.enabled else None
    return dg.Definitions(
        assets=bind_automation(sms_assets, store),
        asset_checks=[*sms_checks, *sms_quality_checks],
        jobs=[sms_job, sms_checks_job, answers_job],
        sensors=[automation_sensor],
        schedules=[answers_daily_schedule],
        resources={**shared.resources, **sms_resources(settings)},
    )


defs = domain_defs(build_defs)
