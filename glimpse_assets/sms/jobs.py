"""The sms chain as jobs: the day's text and the day's answers (`sms_job`, what `make run`
runs), and their checks alone. Declarative automation runs the text for a day once a one-day run
has stored the day's social_post, with GLIMPSE_SMS=on (`automation.follows_upstream_day`); the
answers of a day are kept once it is over, every morning (`answers_daily_schedule`), whether
the SMS channel is on or not (`GET /ask` answers too)."""

from datetime import UTC

import dagster as dg

from glimpse_assets.domains import checks_job
from glimpse_assets.partitions import last_complete_day
from glimpse_assets.sms.assets import SMS_GROUP, answers_given, sms_assets

sms_job = dg.define_asset_job(
    "sms_job",
    selection=dg.AssetSelection.groups(SMS_GROUP),
    description="The day's text to every subscriber, once, with its delivery check; the day's "
    "answers, with their quality check.",
)

sms_checks_job = checks_job("sms", sms_assets)

answers_job = dg.define_asset_job(
    "answers_job",
    selection=dg.AssetSelection.assets(answers_given),
    description="The day's answers (SMS and GET /ask) as a table, with their quality check.",
)


@dg.schedule(
    name="answers_daily_schedule",
    cron_schedule="30 0 * * *",
    execution_timezone="UTC",
    job=answers_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="00:30 UTC every day: the previous day's answers, once the day is over.",
)
def answers_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = last_complete_day(context.scheduled_execution_time.astimezone(UTC).date())
    return dg.RunRequest(run_key=f"answers:{day}", partition_key=day)
