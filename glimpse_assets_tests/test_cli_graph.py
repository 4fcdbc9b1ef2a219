"""One graph from Dagster's own CLI: every asset for a day, and a range of a selection that spans
the domains as one run, storing byte for byte what day-by-day runs store.

`dagster asset materialize` in a child process, as a user types it, on the offline defaults, in
a fresh instance (DAGSTER_HOME) and storage folder per test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.process

REPO = Path(__file__).resolve().parent.parent
DAGSTER = Path(sys.executable).with_name("dagster")
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]
EVERY_ASSET = {
    "raw_news",
    "news_digest",
    "image_prompt",
    "news_image",
    "social_post",
    "raw_rides",
    "clustered_rides",
    "anomaly_summaries",
    "rides_report",
    "rides_report_page",
    "article_chunks",
    "article_embeddings",
    "search_index",
    "strava_activities",
    "activity_stories",
    "sms_digest",
    "answers_given",
}
# News, rides, search and stories in one selection (the search chain reads raw_news' objects).
SPANNING = [
    "raw_news",
    "news_digest",
    "raw_rides",
    "clustered_rides",
    "article_chunks",
    "article_embeddings",
    "search_index",
    "strava_activities",
    "activity_stories",
]
# LanceDB's own files name versions and fragments with fresh ids: the index is compared by
# what it returns elsewhere (test_search_index.py), not by bytes.
NOT_BYTE_STABLE = ("_vector_index/",)


def materialize(home: Path, storage: Path, *args: str) -> subprocess.CompletedProcess:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OPENAI_"))},
        "DAGSTER_HOME": str(home),
        "GLIMPSE_STORAGE_URI": str(storage),
        "GLIMPSE_PROVIDER": "offline",
        "GLIMPSE_RIDES_PER_DAY": "1000",
    }
    return subprocess.run(
        [str(DAGSTER), "asset", "materialize", "-m", "glimpse_assets", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def stored(root: Path) -> dict[str, bytes]:
    """Every object under `root` but the index's own files, with `root` written as <storage>."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes().replace(
            str(root).encode(), b"<storage>"
        )
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.relative_to(root).as_posix().startswith(NOT_BYTE_STABLE)
    }


def test_every_asset_for_one_day_in_one_run(tmp_path):
    home, storage = tmp_path / "home", tmp_path / "storage"

    done = materialize(home, storage, "--select", "*", "--partition", DAYS[0])

    assert done.returncode == 0, done.stderr[-3000:]
    folders = {path.parent.name for path in storage.glob(f"*/{DAYS[0]}.*")}
    assert folders == EVERY_ASSET
    instance = dg.DagsterInstance.from_config(str(home))
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.SUCCESS
    for name in EVERY_ASSET:
        event = instance.get_latest_materialization_event(dg.AssetKey(name))
        assert event is not None and event.dagster_event.partition == DAYS[0], name


def test_a_range_spanning_the_domains_is_one_run_and_stores_what_day_runs_store(tmp_path):
    selection = ",".join(SPANNING)
    by_day = tmp_path / "by_day"
    for day in DAYS:
        done = materialize(
            tmp_path / "home_by_day", by_day, "--select", selection, "--partition", day
        )
        assert done.returncode == 0, done.stderr[-3000:]
    in_range = tmp_path / "range"

    done = materialize(
        tmp_path / "home_range",
        in_range,
        "--select",
        selection,
        "--partition-range",
        f"{DAYS[0]}...{DAYS[-1]}",
    )

    assert done.returncode == 0, done.stderr[-3000:]
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home_range"))
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.SUCCESS
    objects = stored(in_range)
    assert {name.split("/")[0] for name in objects if name.endswith(DAYS[1] + ".parquet")} >= {
        "raw_news",
        "raw_rides",
        "article_chunks",
        "strava_activities",
    }
    assert len([name for name in objects if DAYS[2] in name]) >= len(SPANNING)
    assert objects == stored(by_day)
