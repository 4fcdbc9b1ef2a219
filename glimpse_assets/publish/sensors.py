"""People hear about failures: every failed run of this code location is notified."""

import dagster as dg

from glimpse_assets.publish.notifiers import Notifier


def first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else "no error message"


def failure_message(context: dg.RunFailureSensorContext, notifier: Notifier) -> tuple[str, str]:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition", "no partition")
    failures = context.get_step_failure_events()
    lines = [f"Run {run.run_id} of {run.job_name} failed (partition {partition})."]
    for event in failures:
        error = event.event_specific_data.error
        while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
            error = error.cause  # the cause, not Dagster's wrapper
        lines.append(f"- step {event.step_key}: {first_line(error.message)}")
    if not failures:
        lines.append(f"- {first_line(context.failure_event.message)}")
    lines.append(f"Run: {notifier.run_url(run.run_id)}")
    return f"Glimpse: {run.job_name} failed for {partition}", "\n".join(lines)


@dg.run_failure_sensor(
    name="notify_on_run_failure",
    description="Sends what failed, for which partition, why, and a link to the run.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def notify_on_run_failure(context: dg.RunFailureSensorContext, publish_notifier: Notifier) -> None:
    subject, text = failure_message(context, publish_notifier)
    publish_notifier.send(subject, text)
