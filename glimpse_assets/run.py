"""`make run`: materialise every job for the last complete day, then say where the outputs are.

Runs go into the Dagster instance at DAGSTER_HOME, so `make ui` shows them afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys

import dagster as dg

from glimpse_assets.definitions import defs
from glimpse_assets.partitions import daily_partitions

JOBS_FOR_A_DAY = ("news_job", "rides_job")


def _instance() -> dg.DagsterInstance:
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    print("DAGSTER_HOME is not set: runs are not kept for the UI (make run sets it).")
    return dg.DagsterInstance.ephemeral()


def root_cause(error) -> str:
    """The first error below Dagster's wrappers: a StorageError or an API's message."""
    while (error.cls_name or "").startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error.message.strip()


def report(result: dg.ExecuteInProcessResult) -> list[str]:
    lines = []
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        uri = metadata.get("uri")
        lines.append(f"  {event.asset_key.to_user_string():<18} {uri.value if uri else '-'}")
        if "prompt" in metadata:
            lines.append(f"\n  prompt: {metadata['prompt'].value}\n")
    for evaluation in result.get_asset_check_evaluations():
        status = "passed" if evaluation.passed else "FAILED"
        detail = f": {evaluation.description}" if not evaluation.passed else ""
        lines.append(f"  check {evaluation.check_name:<32} {status}{detail}")
    return lines


def main(argv: list[str] | None = None, definitions: dg.Definitions | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--day",
        default=daily_partitions.get_last_partition_key(),
        help="partition to materialise (YYYY-MM-DD); default: the last complete UTC day",
    )
    args = parser.parse_args(argv)
    instance = _instance()
    failed = False
    done: set[dg.AssetKey] = set()
    for job_name in JOBS_FOR_A_DAY:
        job = (definitions or defs).resolve_job_def(job_name)
        # Jobs share assets (rides_job refreshes raw_news for its headlines): each asset runs once.
        todo = sorted(set(job.asset_layer.executable_asset_keys) - done)
        print(f"{job_name} for {args.day}:")
        result = job.execute_in_process(
            partition_key=args.day,
            instance=instance,
            asset_selection=todo,
            raise_on_error=False,
            # The full event log is in the UI; the terminal gets warnings and the summary below.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        done.update(e.asset_key for e in result.get_asset_materialization_events())
        print("\n".join(report(result)))
        if not result.success:
            failed = True
            for event in result.all_events:
                if event.is_failure and event.step_key:
                    cause = root_cause(event.step_failure_data.error)
                    print(f"  step {event.step_key} failed: {cause}")
    print("\nSee the lineage and every run in the Dagster UI: make ui")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
