"""A day's jobs run in this process as `make run` runs them, and when each of their steps ran:
shared by day_steps.py and big_day.py (scripts in this folder, so this imports as `day_runs`)."""

from __future__ import annotations

import cProfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_jobs(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    jobs: tuple[str, ...],
    day: str,
    profile: cProfile.Profile | None = None,
) -> tuple[dict[str, tuple[float, float, float]], list[str]]:
    """Each job for `day`, in order, each asset once (one two jobs share runs in the first);
    every successful step's (start, end, seconds: its STEP_SUCCESS duration) and the keys of
    the steps that failed. With `profile`, only the runs are profiled."""
    import dagster as dg

    steps: dict[str, tuple[float, float, float]] = {}
    failed: list[str] = []
    done: set[dg.AssetKey] = set()
    for job_name in jobs:
        job = definitions.resolve_job_def(job_name)
        todo = sorted(set(job.asset_layer.executable_asset_keys) - done)
        if profile:
            profile.enable()
        result = job.execute_in_process(
            instance=instance,
            tags={"dagster/partition": day},
            asset_selection=todo,
            run_config=QUIET,
            raise_on_error=False,
        )
        if profile:
            profile.disable()
        done.update(e.asset_key for e in result.get_asset_materialization_events())
        failed += [e.step_key for e in result.all_events if e.is_step_failure]
        started: dict[str, float] = {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started[event.step_key] = entry.timestamp
            if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                seconds = event.event_specific_data.duration_ms / 1000
                steps[event.step_key] = (started[event.step_key], entry.timestamp, seconds)
    return steps, failed
