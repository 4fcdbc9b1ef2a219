"""The outbox gallery in a real headless browser (Debian's chromium through playwright): three
days posted offline, then the page opened from disk as a reader would open it."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets.news.assets import news_assets
from glimpse_assets.news.sources import SampleNewsSource
from glimpse_assets.providers.offline_image import OfflineImageProvider
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.publish.assets import social_post
from glimpse_assets.publish.notifiers import LogNotifier
from glimpse_assets.publish.publishers import OutboxPublisher
from glimpse_assets_tests.support.chromium import launched_chromium, needs_chromium
from glimpse_assets_tests.support.stores import io_manager_at

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]

pytestmark = [pytest.mark.process, needs_chromium]


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
    with launched_chromium() as browser:
        yield browser


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


def test_a_caption_is_shown_as_text_whatever_it_holds(tmp_path, page):
    # Outside text reaches the caption: the page escapes it, it never becomes markup or script.
    from glimpse_assets.publish.gallery import gallery_page

    caption = 'Lanterns <img src=x onerror="window.hit=1"> & "boats" <script>window.hit=2</script>'
    html = gallery_page(
        [
            {
                "day": DAYS[0],
                "caption": caption,
                "caption_text": caption,
                "image": "missing.png",
                "headlines": [{"title": "Harbour <b>festival</b>", "url": "https://news.ex/a"}],
                "sources": [{"title": "Harbour <b>festival</b>", "url": "https://news.ex/a"}],
            }
        ]
    )
    (tmp_path / "index.html").write_text(html, "utf-8")

    page.goto((tmp_path / "index.html").as_uri(), wait_until="load")

    assert page.locator("p.caption").inner_text() == caption
    assert page.evaluate("() => window.hit") is None
    assert page.locator("p.caption img, p.caption script, li.source b").count() == 0
    assert page.locator("li.source a").inner_text() == "Harbour <b>festival</b>"


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
    # Each caption is the one written for readers, not the image prompt, beside the link of
    # the story it was written from.
    captions = page.locator("p.caption")
    assert captions.count() == 3
    for index, post in enumerate(expected):
        card = page.locator("article").nth(index)
        assert captions.nth(index).is_visible()
        assert captions.nth(index).inner_text() == post["caption_text"]
        assert post["prompt"] not in card.inner_text()
        assert "Visual motifs" not in card.inner_text() and "Style:" not in card.inner_text()
        (source,) = post["sources"]
        link = card.locator("ul.headlines li.source a")
        assert link.count() == 1 and link.is_visible()
        assert (link.inner_text(), link.get_attribute("href")) == (source["title"], source["url"])

    for index, post in enumerate(expected):
        links = page.locator("article").nth(index).locator("ul.headlines a")
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        titles = links.all_inner_texts()
        assert hrefs == [h["url"] for h in post["headlines"]]
        assert titles == [h["title"] for h in post["headlines"]]
        assert hrefs and all(href.startswith("https://") for href in hrefs)
