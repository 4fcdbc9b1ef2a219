"""`make run`'s entry point: what it stores and what it tells the user."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.run import DaysError, days_asked, main
from glimpse_assets_tests.support.net import free_port

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_run_materialises_every_asset_of_the_day_once_and_prints_where_they_are(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    storage = tmp_path / "storage"
    definitions = build_definitions(
        {"GLIMPSE_STORAGE_URI": str(storage), "GLIMPSE_RIDES_PER_DAY": "1000"}
    )

    assert main(["--day", "2026-03-01"], definitions) == 0

    out = capsys.readouterr().out
    expected = {
        "raw_news": storage / "raw_news" / "2026-03-01.parquet",
        "news_digest": storage / "news_digest" / "2026-03-01.json",
        "image_prompt": storage / "image_prompt" / "2026-03-01.json",
        "news_image": storage / "news_image" / "2026-03-01.png",
        "raw_rides": storage / "raw_rides" / "2026-03-01.parquet",
        "clustered_rides": storage / "clustered_rides" / "2026-03-01.parquet",
        "anomaly_summaries": storage / "anomaly_summaries" / "2026-03-01.parquet",
        "rides_report": storage / "rides_report" / "2026-03-01.parquet",
        "rides_report_page": storage / "rides_report_page" / "2026-03-01.html",
        "strava_activities": storage / "strava_activities" / "2026-03-01.parquet",
        "activity_stories": storage / "activity_stories" / "2026-03-01.parquet",
        "sms_digest": storage / "sms_digest" / "2026-03-01.json",
        "answers_given": storage / "answers_given" / "2026-03-01.parquet",
    }
    for name, path in expected.items():
        assert path.is_file(), name
        assert out.count(str(path)) == 1, f"{name} printed (so materialised) exactly once"
    assert "caption: " in out  # the caption posted, not the image prompt
    assert "prompt: " not in out
    assert out.count(" passed") == 13  # 8, and 5 quality checks


@pytest.mark.slow
def test_run_reports_the_storage_error_not_dagsters_wrapper(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    closed_port = free_port()  # nothing listens on it
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    definitions = build_definitions({"GLIMPSE_STORAGE_URI": "s3://no-such-bucket/glimpse"})

    assert main(["--day", "2026-03-01"], definitions) == 1

    out = capsys.readouterr().out
    assert "step raw_news failed: StorageUnavailableError: " in out  # its class, not its module
    assert "glimpse_assets." not in out
    assert "s3://no-such-bucket/glimpse/raw_news/2026-03-01.parquet" in out
    lines = out.splitlines()
    assert lines[0].startswith("make run failed: news_job for 2026-03-01: step raw_news failed:")
    assert "DAGSTER_HOME is not set" in out  # a notice, after the failure
    err = capsys.readouterr().err
    assert "Traceback" not in out + err  # one clear line, not Dagster's logs


@pytest.mark.slow
def test_run_with_a_relative_dagster_home_keeps_its_runs_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    shutil.copy(REPO / "dagster.yaml", tmp_path / "home" / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", "home")  # as the README once said: relative
    definitions = build_definitions(
        {"GLIMPSE_STORAGE_URI": str(tmp_path / "storage"), "GLIMPSE_RIDES_PER_DAY": "200"}
    )

    assert main(["--day", "2026-03-01"], definitions) == 0

    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
    assert {run.job_name for run in instance.get_runs()} == {
        "news_job",
        "rides_job",
        "search_job",
        "stories_job",
        "sms_job",
    }


def test_a_day_outside_the_partitions_is_one_line_naming_the_days_that_exist(capsys):
    assert main(["--day", "2099-01-01"], build_definitions({})) == 2

    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1
    assert out.startswith("make run failed: no partition 2099-01-01: the days run from 2026-01-01")


def test_a_future_start_date_says_there_is_no_complete_day_yet():
    future = dg.DailyPartitionsDefinition(start_date="2099-01-01", timezone="UTC", end_offset=1)

    with pytest.raises(DaysError, match="no complete day yet: GLIMPSE_START_DATE is 2099-01-01"):
        days_asked(future, None, None)


def test_dagsters_range_spelling_today_and_the_default_day():
    from glimpse_assets.partitions import last_complete_day

    partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)
    assert days_asked(partitions, None, "2026-03-01...2026-03-03") == ("2026-03-01", "2026-03-03")
    assert days_asked(partitions, None, "2026-03-01..2026-03-03") == ("2026-03-01", "2026-03-03")
    yesterday = last_complete_day()
    assert days_asked(partitions, None, None) == (yesterday, yesterday)
    today = partitions.get_last_partition_key()  # the day so far, asked for by name
    assert today > yesterday and days_asked(partitions, today, None) == (today, today)


@pytest.mark.parametrize(
    ("days", "message"),
    [("2026-03-05..2026-03-01", "ends before it starts"), ("March", "is not a day")],
)
def test_bad_ranges_are_one_line(days, message):
    with pytest.raises(DaysError, match=message):
        days_asked(dg.DailyPartitionsDefinition(start_date="2026-01-01"), None, days)


@pytest.mark.process
def test_a_bad_setting_stops_make_run_with_one_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    completed = subprocess.run(
        [sys.executable, "-m", "glimpse_assets.run"],
        env={**env, "GLIMPSE_PROVIDER": "carrier-pigeon"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 2
    assert completed.stdout.splitlines() == [
        "make run failed: GLIMPSE_PROVIDER='carrier-pigeon' is not allowed: input should be "
        "'auto', 'offline' or 'openai'"
    ]
    assert "Traceback" not in completed.stderr


@pytest.mark.slow
def test_a_range_runs_once_per_job_and_stores_every_day(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    storage = tmp_path / "storage"
    definitions = build_definitions(
        {"GLIMPSE_STORAGE_URI": str(storage), "GLIMPSE_RIDES_PER_DAY": "200"}
    )

    assert main(["--days", "2026-03-01..2026-03-03"], definitions) == 0

    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        assert (storage / "rides_report_page" / f"{day}.html").is_file()
        assert (storage / "social_post" / f"{day}.json").is_file()
    out = capsys.readouterr().out
    assert out.count("news_job for 2026-03-01..2026-03-03:") == 1
    # Each check once a day, labelled with its day; the whole range's result is not repeated.
    lines = [line.split() for line in out.splitlines() if line.startswith("  check ")]
    checked = {(words[1], words[2]) for words in lines}
    assert len(checked) == len(lines)
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        assert ("raw_news_has_articles", day) in checked
        assert ("search_index_finds_the_main_story", day) in checked
    assert {words[2] for words in lines} == {"2026-03-01", "2026-03-02", "2026-03-03"}


@pytest.mark.slow
def test_checks_rerun_for_a_day_on_what_is_stored(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    storage = tmp_path / "storage"
    definitions = build_definitions(
        {"GLIMPSE_STORAGE_URI": str(storage), "GLIMPSE_RIDES_PER_DAY": "200"}
    )
    assert main(["--day", "2026-03-01"], definitions) == 0
    before = {path: path.stat().st_mtime_ns for path in storage.rglob("*.parquet")}
    capsys.readouterr()

    assert main(["--checks", "--day", "2026-03-01"], definitions) == 0

    out = capsys.readouterr().out
    assert out.count(" passed") == 13  # 8, and 5 quality checks
    assert {path: path.stat().st_mtime_ns for path in storage.rglob("*.parquet")} == before


def test_checks_on_a_day_never_run_say_nothing_is_stored_one_line_per_domain(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    storage = tmp_path / "storage"
    definitions = build_definitions({"GLIMPSE_STORAGE_URI": str(storage)})

    assert main(["--checks", "--day", "2026-03-01"], definitions) == 2

    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"{domain}: nothing stored for 2026-03-01; run `make run DAY=2026-03-01` first"
        for domain in ("news", "publish", "rides", "search", "stories", "sms")
    ]
    assert not storage.exists() or not any(storage.rglob("*"))  # nothing was run, or stored


def test_day_and_days_together_are_one_line(capsys):
    assert main(["--day", "2026-03-01", "--days", "2026-03-01..2026-03-02"], None) == 2
    assert capsys.readouterr().out.splitlines() == [
        "make run failed: give --day (one day) or --days (a range), not both"
    ]
