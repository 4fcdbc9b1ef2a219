"""Backfills launched as the UI launches them (GraphQL `launchPartitionBackfill`: an asset
selection and partition names) and run by a real `dagster-daemon`, offline, on a fresh instance
and storage: every asset over three days is ONE backfill and ONE run that ends in success, and a
backfill of the rides group alone makes the rides assets of its days and nothing else.

The daemon, the webserver and the instance are those of glimpse_assets_tests/support/
dagster_processes.py (benchmarks/backfill.py uses the same). Both backfills run in one daemon
session: the backfill daemon looks every 30 s, so each session costs at least a minute.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets_tests.support.dagster_processes import (
    BIN,
    REPO,
    backfill_runs,
    daemon_env,
    failure_messages,
    init_instance,
    launch_backfill,
    materializable_assets,
    not_materialised,
    run_events,
    running_daemon,
    running_webserver,
    target_partitions,
    wait_for_backfill,
    write_instance_yaml,
)
from glimpse_assets_tests.support.net import NotReady, log_tail

pytestmark = pytest.mark.process

ALL_DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]
RIDES_DAYS = ["2026-03-04", "2026-03-05", "2026-03-06"]
RIDES_ASSETS = {
    "raw_rides",
    "clustered_rides",
    "anomaly_summaries",
    "rides_report",
    "rides_report_page",
}
# From the test's start to both backfills' end, daemon and webserver start-up included.
TIMEOUT_SECONDS = 300


def materialised_days(instance: dg.DagsterInstance, asset: str, days: list[str]) -> dict[str, set]:
    """The days of `days` the instance records a materialisation of `asset` for, each with the
    runs that recorded it."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(asset), asset_partitions=days),
        limit=1000,
    ).records
    found: dict[str, set] = {}
    for record in records:
        found.setdefault(record.partition_key, set()).add(record.run_id)
    return found


def stored_days(storage: Path, asset: str) -> set[str]:
    """The days the storage holds an object of `asset` for (`<asset>/<day>.<ext>`)."""
    folder = storage / asset
    return {path.name.split(".")[0] for path in folder.iterdir()} if folder.is_dir() else set()


def test_ui_backfills_of_every_asset_and_of_the_rides_group(tmp_path):
    deadline = time.monotonic() + TIMEOUT_SECONDS
    home, storage = tmp_path / "dagster_home", tmp_path / "storage"
    write_instance_yaml(home, None)  # the repository's dagster.yaml
    env = daemon_env(home, storage, ALL_DAYS[0]) | {"GLIMPSE_RIDES_PER_DAY": "1000"}
    init_instance(env)
    # raw_rides reads the day's stored raw_news (its input, loaded by the IO manager), and a
    # backfill of the rides group does not make raw_news: with raw_news stored for none of its
    # days, raw_rides skips every day (ranges.for_each_day) and its step fails ("raw_rides:
    # skipped 2026-03-04 (raw_news is not stored for it); ... so the step fails"). So the
    # raw_news of the rides days is stored first, by one CLI run on the same instance and
    # storage, before the daemon starts. The rides days are not (a)'s, so that (b) does not
    # depend on (a)'s timing and what (b) made can be told apart from what (a) made.
    materialize_news = [str(BIN / "dagster"), "asset", "materialize", "-m", "glimpse_assets"]
    news = subprocess.run(
        [
            *materialize_news,
            "--select",
            "raw_news",
            "--partition-range",
            f"{RIDES_DAYS[0]}...{RIDES_DAYS[-1]}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert news.returncode == 0, f"raw_news of {RIDES_DAYS}:\n{(news.stdout + news.stderr)[-3000:]}"

    daemon_log = tmp_path / "daemon.log"
    with running_daemon(env, home, daemon_log) as instance:
        with running_webserver(env, tmp_path / "webserver.log") as url:
            assets = materializable_assets(url)
            everything = launch_backfill(
                url, [node["assetKey"]["path"] for node in assets], ALL_DAYS, title="every asset"
            )
            rides_paths = [
                node["assetKey"]["path"] for node in assets if node["groupName"] == "rides"
            ]
            rides = launch_backfill(url, rides_paths, RIDES_DAYS, title="rides")
        try:
            backfills = {
                name: wait_for_backfill(instance, backfill_id, max(deadline - time.monotonic(), 0))
                for name, backfill_id in (("every asset", everything), ("rides", rides))
            }
        except NotReady as error:
            pytest.fail(
                f"gave up {TIMEOUT_SECONDS} s after the test started: {error}\n"
                f"daemon log:\n{log_tail(daemon_log, 40)}"
            )
        runs = {name: backfill_runs(instance, b.backfill_id) for name, b in backfills.items()}
        for name, backfill in backfills.items():
            failures = failure_messages(run_events(instance, runs[name]))
            assert backfill.status == "COMPLETED_SUCCESS", (
                f"{name}: {backfill.status}, not materialised {not_materialised(backfill)}, "
                f"step failures {failures}"
            )

        # (a) every asset over ALL_DAYS: one run, every asset-day recorded and stored.
        every_asset = backfills["every asset"]
        all_assets = {"/".join(node["assetKey"]["path"]) for node in assets}
        assert target_partitions(every_asset) == {asset: ALL_DAYS for asset in all_assets}
        assert len(runs["every asset"]) == 1, [run.run_id for run in runs["every asset"]]
        (run,) = runs["every asset"]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        for asset in sorted(all_assets):
            recorded = materialised_days(instance, asset, ALL_DAYS)
            assert set(recorded) == set(ALL_DAYS), f"{asset}: recorded {sorted(recorded)}"
            assert all(run_ids == {run.run_id} for run_ids in recorded.values()), recorded
            assert stored_days(storage, asset) >= set(ALL_DAYS), asset

        # (b) the rides group over RIDES_DAYS: its five assets over its three days, nothing else.
        rides_backfill = backfills["rides"]
        assert target_partitions(rides_backfill) == {asset: RIDES_DAYS for asset in RIDES_ASSETS}
        assert not not_materialised(rides_backfill)
        for run in runs["rides"]:
            assert {key.to_user_string() for key in run.asset_selection or ()} <= RIDES_ASSETS
        for asset in sorted(all_assets):
            made = set(materialised_days(instance, asset, RIDES_DAYS))
            held = stored_days(storage, asset) & set(RIDES_DAYS)
            # raw_news of these days is the CLI run's.
            expected = set(RIDES_DAYS) if asset in RIDES_ASSETS | {"raw_news"} else set()
            assert made == expected, f"{asset}: recorded {sorted(made)}"
            assert held == expected, f"{asset}: stored {sorted(held)}"
