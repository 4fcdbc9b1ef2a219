"""The outbox gallery in a real headless browser (Debian's chromium through playwright): three
days posted offline, then the page opened from disk as a reader would open it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import sync_playwright

from glimpse_assets.news.assets import news_assets
from glimpse_assets.news.sources import SampleNewsSource
from glimpse_assets.providers.offline_image import OfflineImageProvider
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.publish.assets import social_post
from glimpse_assets.publish.notifiers import LogNotifier
from glimpse_assets.publish.publishers import OutboxPublisher
from glimpse_assets_tests.stores import io_manager_at

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: .ci/run installs Debian's chromium for this test",
)


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> Path:
    """Three days of the news chain and social_post through the outbox, offline."""
    root = tmp_path_factory.mktemp("gallery") / "storage"
    io_manager = io_manager_at(str(root))
    resources = {
        "io_manager": io_manager,
        "object_store": io_manager.object_store,
        "news_source": SampleNewsSource(),
        "text_provider": OfflineTextProvider(),
        "image_provider": OfflineImageProvider(),
        "news_publisher": OutboxPublisher(object_store=io_manager.object_store),
        "publish_notifier": LogNotifier(),
    }
    for day in DAYS:
        dg.materialize([*news_assets, social_post], partition_key=day, resources=resources)
    return root


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()


def posts(storage: Path) -> list[dict]:
    """The outbox's post records, newest first (the gallery's order)."""
    return [
        json.loads((storage / "outbox" / day / "post.json").read_text("utf-8"))
        for day in sorted(DAYS, reverse=True)
    ]


def test_the_gallery_shows_every_picture_caption_and_headline(storage, page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))

    response = page.goto((storage / "gallery" / "index.html").as_uri(), wait_until="load")

    assert response is not None and response.ok
    assert page.title() == "Glimpse gallery"
    assert errors == []

    images = page.evaluate(
        """() => Array.from(document.images).map(img => ({
            src: img.currentSrc, alt: img.alt, complete: img.complete,
            width: img.naturalWidth, height: img.naturalHeight}))"""
    )
    expected = posts(storage)
    assert [image["alt"] for image in images] == [f"Glimpse of {p['day']}" for p in expected]
    for image, post in zip(images, expected, strict=True):
        assert image["complete"], image
        assert (image["width"], image["height"]) == (1024, 1024), image  # decoded
        assert image["src"] == (storage / "outbox" / post["day"] / "image.png").as_uri()

    assert page.locator("article h2").all_inner_texts() == [p["day"] for p in expected]
    captions = page.locator("p.caption")
    assert captions.count() == 3
    for index, post in enumerate(expected):
        assert captions.nth(index).is_visible()
        assert captions.nth(index).inner_text() == post["caption"]

    for index, post in enumerate(expected):
        links = page.locator("article").nth(index).locator("ul.headlines a")
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        titles = links.all_inner_texts()
        assert hrefs == [h["url"] for h in post["headlines"]]
        assert titles == [h["title"] for h in post["headlines"]]
        assert hrefs and all(href.startswith("https://") for href in hrefs)
