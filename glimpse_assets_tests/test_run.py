"""`make run`'s entry point: what it stores and what it tells the user."""

import socket

from glimpse_assets.definitions import build_definitions
from glimpse_assets.run import main


def test_run_materialises_the_day_and_prints_every_uri_and_the_prompt(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    storage = tmp_path / "storage"
    definitions = build_definitions({"GLIMPSE_STORAGE_URI": str(storage)})

    assert main(["--day", "2026-03-01"], definitions) == 0

    out = capsys.readouterr().out
    expected = {
        "raw_news": storage / "raw_news" / "2026-03-01.parquet",
        "news_digest": storage / "news_digest" / "2026-03-01.json",
        "image_prompt": storage / "image_prompt" / "2026-03-01.json",
        "news_image": storage / "news_image" / "2026-03-01.png",
    }
    for name, path in expected.items():
        assert path.is_file(), name
        assert f"{name}" in out and str(path) in out
    assert "prompt: An editorial illustration" in out
    assert out.count("passed") == 3


def test_run_reports_the_storage_error_not_dagsters_wrapper(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    definitions = build_definitions({"GLIMPSE_STORAGE_URI": "s3://no-such-bucket/glimpse"})

    assert main(["--day", "2026-03-01"], definitions) == 1

    out = capsys.readouterr().out
    assert "step raw_news failed: glimpse_assets.object_store.StorageError" in out
    assert "s3://no-such-bucket/glimpse/raw_news/2026-03-01.parquet" in out
