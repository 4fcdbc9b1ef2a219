"""The news chain end to end on the offline providers: local folder and S3 (moto and SeaweedFS
on 127.0.0.1)."""

import io
import json
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from PIL import Image

from glimpse_assets.news.assets import news_assets
from glimpse_assets.news.checks import news_checks
from glimpse_assets.news.sources import NewsBatch, NewsSource
from glimpse_assets_tests.support.stores import io_manager_at

OUTPUTS = {
    "raw_news": "parquet",
    "news_digest": "json",
    "image_prompt": "json",
    "news_image": "png",
}


def materialize_day(resources: dict, day: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*news_assets, *news_checks], partition_key=day, resources=resources, raise_on_error=False
    )


def stored_files(root: Path, day: str) -> dict[str, bytes]:
    return {name: (root / name / f"{day}.{ext}").read_bytes() for name, ext in OUTPUTS.items()}


class FixedNewsSource(NewsSource):
    """A test double: whatever articles the test gives it, for any day."""

    articles_json: str = "[]"

    @property
    def kind(self) -> str:
        return "fixed"

    def fetch_day(self, day: date) -> NewsBatch:
        return NewsBatch(json.loads(self.articles_json))


def article(index: int, day: str, **fields) -> dict:
    return {
        "id": f"a{index}",
        "title": f"Harbour lanterns festival night {index}",
        "description": "Lanterns float over the harbour as boats drift past the old lighthouse.",
        "url": f"https://news.example/a{index}",
        "author": None,
        "image": "None",
        "language": "en",
        "category": ["general"],
        "published": f"{day} 10:0{index}:00 +0000",
        **fields,
    }


@pytest.mark.slow
def test_two_days_give_different_outputs_and_a_rerun_is_byte_identical(offline_resources, tmp_path):
    root = tmp_path / "storage"
    first = materialize_day(offline_resources, "2026-03-01")
    second = materialize_day(offline_resources, "2026-03-02")
    assert first.success and second.success

    day_one, day_two = stored_files(root, "2026-03-01"), stored_files(root, "2026-03-02")
    for name in OUTPUTS:
        assert day_one[name] != day_two[name], f"{name} is the same on two different days"

    assert materialize_day(offline_resources, "2026-03-01").success
    assert stored_files(root, "2026-03-01") == day_one


def test_stored_outputs_are_readable_without_dagster(offline_resources, tmp_path):
    day = "2026-03-01"
    result = materialize_day(offline_resources, day)
    assert result.success
    root = tmp_path / "storage"

    raw = pd.read_parquet(root / "raw_news" / f"{day}.parquet")
    assert len(raw) >= 1
    assert str(raw["published"].dt.tz) == "UTC"
    assert raw["published"].dt.strftime("%Y-%m-%d").eq(day).all()

    digest = json.loads((root / "news_digest" / f"{day}.json").read_text("utf-8"))
    assert digest["main"]["id"] in set(raw["id"])
    assert len(digest["text"]) <= digest["budget_chars"]

    prompt = json.loads((root / "image_prompt" / f"{day}.json").read_text("utf-8"))
    assert prompt["provider"] == "offline" and "not an LLM" in prompt["method"]
    assert "\n" not in prompt["text"] and 20 <= len(prompt["text"].split()) <= 80

    with Image.open(root / "news_image" / f"{day}.png") as image:
        assert (image.format, image.size) == ("PNG", (1024, 1024))

    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "raw_news_has_articles": True,
        "image_prompt_is_one_paragraph": True,
        "news_image_is_valid_png": True,
    }
    metadata = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert metadata["news_image"]["uri"].value == str(root / "news_image" / f"{day}.png")
    assert "data:image/png;base64," in metadata["news_image"]["preview"].value
    assert metadata["image_prompt"]["prompt"].value == prompt["text"]


@pytest.mark.slow
def test_the_chain_on_s3_stores_every_output_under_the_prefix(
    offline_resources, s3_client, s3_bucket
):
    day = "2026-03-01"
    io_manager = io_manager_at(f"s3://{s3_bucket}/glimpse")
    resources = {
        **offline_resources,
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
    }
    result = materialize_day(resources, day)
    assert result.success

    keys = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == sorted(f"glimpse/{name}/{day}.{ext}" for name, ext in OUTPUTS.items())

    def read(key: str) -> bytes:
        return s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()

    raw = pd.read_parquet(io.BytesIO(read(f"glimpse/raw_news/{day}.parquet")))
    digest = json.loads(read(f"glimpse/news_digest/{day}.json"))
    prompt = json.loads(read(f"glimpse/image_prompt/{day}.json"))
    image = Image.open(io.BytesIO(read(f"glimpse/news_image/{day}.png")))
    assert len(raw) == digest["article_count"]
    assert prompt["main_story"] == digest["main"]["title"]
    assert (image.format, image.size) == ("PNG", (1024, 1024))
    uri = {
        e.asset_key.to_user_string(): e.materialization.metadata["uri"].value
        for e in result.get_asset_materialization_events()
    }
    assert uri["news_image"] == f"s3://{s3_bucket}/glimpse/news_image/{day}.png"


def test_an_empty_news_day_stops_the_chain_with_a_message_naming_the_day(
    offline_resources, tmp_path
):
    day = "2026-03-03"
    resources = {**offline_resources, "news_source": FixedNewsSource(articles_json="[]")}
    result = materialize_day(resources, day)

    check = next(e for e in result.get_asset_check_evaluations())
    assert check.check_name == "raw_news_has_articles" and not check.passed
    assert day in check.description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"raw_news"}
    root = tmp_path / "storage"
    assert pd.read_parquet(root / "raw_news" / f"{day}.parquet").empty
    for name in ("news_digest", "image_prompt", "news_image"):
        assert not (root / name).exists()


def test_html_emoji_missing_fields_and_a_huge_body_still_give_a_bounded_prompt(
    offline_resources, tmp_path
):
    day = "2026-03-04"
    huge = "<p>" + "Lantern boats glow along the quay. " * 30_000 + "</p>"  # about 1 MB
    articles = [
        article(1, day, description=huge),
        article(2, day, title="<b>Harbour</b> &amp; lanterns 🏮 tonight", description=None),
        article(3, day, title=None, description="Lanterns 🏮 over the café terrace\x00\x1b."),
        {"title": "no id, no url, no date"},
        article(4, day, author=None, category=None, language=None),
    ]
    resources = {
        **offline_resources,
        "news_source": FixedNewsSource(articles_json=json.dumps(articles)),
    }
    result = materialize_day(resources, day)
    assert result.success

    root = tmp_path / "storage"
    assert len(pd.read_parquet(root / "raw_news" / f"{day}.parquet")) == 4
    digest = json.loads((root / "news_digest" / f"{day}.json").read_text("utf-8"))
    assert len(digest["text"]) <= digest["budget_chars"]
    assert "<b>" not in digest["text"] and "&amp;" not in digest["text"]
    assert "🏮" in digest["text"] and "\x00" not in digest["text"]
    prompt = json.loads((root / "image_prompt" / f"{day}.json").read_text("utf-8"))
    assert 20 <= len(prompt["text"].split()) <= 80
