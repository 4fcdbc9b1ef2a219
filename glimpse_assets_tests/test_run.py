"""`make run`'s entry point: what it stores and what it tells the user."""

import socket

from glimpse_assets.definitions import build_definitions
from glimpse_assets.run import main


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
    }
    for name, path in expected.items():
        assert path.is_file(), name
        assert out.count(str(path)) == 1, f"{name} printed (so materialised) exactly once"
    assert "prompt: An editorial illustration" in out
    assert out.count("passed") == 5


def test_run_reports_the_storage_error_not_dagsters_wrapper(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    definitions = build_definitions({"GLIMPSE_STORAGE_URI": "s3://no-such-bucket/glimpse"})

    assert main(["--day", "2026-03-01"], definitions) == 1

    out = capsys.readouterr().out
    assert "step raw_news failed: glimpse_assets.storage.object_store.StorageError" in out
    assert "s3://no-such-bucket/glimpse/raw_news/2026-03-01.parquet" in out
