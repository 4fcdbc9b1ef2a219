"""The Currents API and RSS/Atom news sources against real HTTP servers on 127.0.0.1.

Tests assert what was sent (path, query, headers) as well as what came back, and that a failing
source fails `raw_news` without touching what is stored.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.assets import raw_news
from glimpse_assets.news.sources import CurrentsNewsSource, NewsSourceError, RssNewsSource
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply, Request

DAY = date(2026, 3, 2)
PARTITION = "2026-03-02"
API_KEY = "k-secret"


def article(n: int, published: str = "2026-03-02 10:00:00 +0000") -> dict:
    return {
        "id": f"a-{n}",
        "title": f"Story {n}",
        "description": f"What happened in story {n}.",
        "url": f"https://news.example/{n}",
        "author": "Desk",
        "image": "None",
        "language": "en",
        "category": ["general"],
        "published": published,
    }


def ok(*numbers: int) -> Reply:
    return Reply.json({"status": "ok", "news": [article(n) for n in numbers], "page": 1})


def in_turn(*replies: Reply):
    """A handler answering with each reply in turn, then repeating the last one."""
    queue = list(replies)

    def handler(request: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def currents(server: LocalHTTPServer, **settings) -> CurrentsNewsSource:
    defaults = {"api_key": API_KEY, "base_url": server.url, "page_size": 2, "backoff_seconds": 0}
    return CurrentsNewsSource(**{**defaults, **settings})


# -- Currents API: what is sent -------------------------------------------------------------------


def test_currents_requests_the_utc_day_from_v1_search_with_key_in_header_only():
    with LocalHTTPServer(in_turn(ok(1))) as server:
        batch = currents(server, language="de").fetch_day(DAY)

    assert [a["id"] for a in batch.articles] == ["a-1"]
    [request] = server.requests
    assert (request.method, request.path) == ("GET", "/v1/search")
    assert request.query == {
        "language": "de",
        "start_date": "2026-03-02T00:00:00+00:00",
        "end_date": "2026-03-03T00:00:00+00:00",
        "page_number": "1",
        "page_size": "2",
    }
    assert request.headers["authorization"] == API_KEY
    assert API_KEY not in request.path
    assert all(API_KEY not in value for value in request.query.values())


def test_currents_sends_category_when_configured():
    with LocalHTTPServer(in_turn(ok(1))) as server:
        currents(server, category="science").fetch_day(DAY)

    assert server.requests[0].query["category"] == "science"


# -- Currents API: paging -------------------------------------------------------------------------


def test_currents_pages_until_a_short_page():
    with LocalHTTPServer(in_turn(ok(1, 2), ok(3, 4), ok(5))) as server:
        batch = currents(server).fetch_day(DAY)

    assert [a["id"] for a in batch.articles] == ["a-1", "a-2", "a-3", "a-4", "a-5"]
    assert [r.query["page_number"] for r in server.requests] == ["1", "2", "3"]
    assert batch.details == {"pages": 3, "possibly_truncated": False}


def test_currents_stops_after_an_empty_page():
    with LocalHTTPServer(in_turn(ok(1, 2), ok())) as server:
        batch = currents(server).fetch_day(DAY)

    assert len(batch.articles) == 2
    assert len(server.requests) == 2


def test_currents_respects_max_pages_and_flags_possible_truncation():
    with LocalHTTPServer(in_turn(ok(1, 2), ok(3, 4), ok(5, 6))) as server:
        batch = currents(server, max_pages=2).fetch_day(DAY)

    assert [a["id"] for a in batch.articles] == ["a-1", "a-2", "a-3", "a-4"]
    assert [r.query["page_number"] for r in server.requests] == ["1", "2"]
    assert batch.details == {"pages": 2, "possibly_truncated": True}


# -- Currents API: errors and retries -------------------------------------------------------------


def test_currents_unauthorised_names_status_and_api_message_but_not_the_key():
    reply = Reply.json({"status": "error", "message": "invalid api key"}, status=401)
    with LocalHTTPServer(in_turn(reply)) as server, pytest.raises(NewsSourceError) as raised:
        currents(server).fetch_day(DAY)

    message = str(raised.value)
    assert "401" in message
    assert "invalid api key" in message
    assert "CURRENTS_API_KEY" in message
    assert API_KEY not in message
    assert len(server.requests) == 1  # a 401 is not retried


def test_currents_retries_429_then_succeeds():
    throttled = Reply.json({"status": "error", "message": "slow down"}, 429, **{"Retry-After": "0"})
    with LocalHTTPServer(in_turn(throttled, ok(1))) as server:
        batch = currents(server).fetch_day(DAY)

    assert [a["id"] for a in batch.articles] == ["a-1"]
    assert len(server.requests) == 2
    assert server.requests[0].query == server.requests[1].query


def test_currents_gives_up_on_persistent_500_after_max_retries():
    broken = Reply.json({"status": "error", "message": "upstream exploded"}, status=500)
    with LocalHTTPServer(in_turn(broken)) as server, pytest.raises(NewsSourceError) as raised:
        currents(server, max_retries=2).fetch_day(DAY)

    assert len(server.requests) == 3
    assert "HTTP 500" in str(raised.value)
    assert "upstream exploded" in str(raised.value)


def test_currents_malformed_json_is_reported_as_such():
    garbage = Reply(200, b'{"status": "ok", "news": [', {"Content-Type": "application/json"})
    with (
        LocalHTTPServer(in_turn(garbage)) as server,
        pytest.raises(NewsSourceError, match="malformed JSON for page 1"),
    ):
        currents(server).fetch_day(DAY)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "error", "msg": "quota"}, "quota"),
        ({"status": "error", "message": "quota exceeded"}, "quota exceeded"),
    ],
)
def test_currents_error_status_in_body_is_reported_with_its_message(body, expected):
    with (
        LocalHTTPServer(in_turn(Reply.json(body))) as server,
        pytest.raises(NewsSourceError, match="answered with an error for page 1") as raised,
    ):
        currents(server).fetch_day(DAY)

    assert expected in str(raised.value)


def test_currents_ok_body_without_news_list_is_an_error():
    with (
        LocalHTTPServer(in_turn(Reply.json({"status": "ok", "news": None}))) as server,
        pytest.raises(NewsSourceError, match="has no 'news' list"),
    ):
        currents(server).fetch_day(DAY)


def test_currents_unreachable_names_the_url_but_not_the_key():
    with LocalHTTPServer(in_turn(ok())) as server:
        url = server.url
    # The server is shut down: nothing listens on its port any more.

    with pytest.raises(NewsSourceError, match="Currents API unreachable") as raised:
        CurrentsNewsSource(api_key=API_KEY, base_url=url, max_retries=0).fetch_day(DAY)

    assert f"{url}/v1/search" in str(raised.value)
    assert API_KEY not in str(raised.value)


# -- raw_news end to end with a failing source ----------------------------------------------------


def raw_news_objects(storage: Path) -> list[str]:
    folder = storage / "raw_news"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def materialise_raw_news(server: LocalHTTPServer, io_manager) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_news],
        partition_key=PARTITION,
        resources={
            "io_manager": io_manager,
            "news_source": CurrentsNewsSource(api_key=API_KEY, base_url=server.url),
        },
        raise_on_error=False,
    )


MALFORMED = Reply(200, b"<html>maintenance</html>", {"Content-Type": "application/json"})


def test_raw_news_with_malformed_api_reply_fails_and_stores_nothing(tmp_path, local_io_manager):
    with LocalHTTPServer(in_turn(MALFORMED)) as server:
        result = materialise_raw_news(server, local_io_manager)

    assert not result.success
    assert "malformed JSON" in failure_text(result)
    assert API_KEY not in failure_text(result)
    assert raw_news_objects(tmp_path / "storage") == []


def test_raw_news_failure_leaves_previously_stored_day_byte_identical(tmp_path, local_io_manager):
    stored = tmp_path / "storage" / "raw_news" / f"{PARTITION}.parquet"
    with LocalHTTPServer(in_turn(ok(1, 2, 3))) as server:
        assert materialise_raw_news(server, local_io_manager).success
    before = stored.read_bytes()
    assert pd.read_parquet(stored)["id"].tolist() == ["a-1", "a-2", "a-3"]

    with LocalHTTPServer(in_turn(MALFORMED)) as server:
        result = materialise_raw_news(server, local_io_manager)

    assert not result.success
    assert stored.read_bytes() == before
    assert raw_news_objects(tmp_path / "storage") == [f"{PARTITION}.parquet"]


# -- RSS and Atom ---------------------------------------------------------------------------------

RSS_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>Harbour Gazette</title>
    <link>https://gazette.example/</link>
    <description>Local news</description>
    <language>en-GB</language>
    <item>
      <title>Harbour reopens</title>
      <link>https://gazette.example/harbour</link>
      <guid>gazette-1</guid>
      <description>&lt;p&gt;The &lt;b&gt;harbour&lt;/b&gt; reopened at dawn.&lt;/p&gt;</description>
      <category>Local</category>
      <category>Transport</category>
      <pubDate>Tue, 03 Mar 2026 01:30:00 +0200</pubDate>
      <media:thumbnail url="https://gazette.example/harbour.jpg" width="120" height="80"/>
    </item>
    <item>
      <title>Market day</title>
      <link>https://gazette.example/market</link>
      <guid>gazette-2</guid>
      <description>Stalls return to the square.</description>
      <pubDate>Mon, 02 Mar 2026 08:15:00 GMT</pubDate>
      <enclosure url="https://gazette.example/market.png" type="image/png" length="1234"/>
    </item>
    <item>
      <title>Late in the west</title>
      <link>https://gazette.example/late</link>
      <guid>gazette-3</guid>
      <description>Already the next day in UTC.</description>
      <pubDate>Mon, 02 Mar 2026 23:30:00 -0200</pubDate>
    </item>
    <item>
      <title>Yesterday's news</title>
      <link>https://gazette.example/yesterday</link>
      <guid>gazette-4</guid>
      <pubDate>Sun, 01 Mar 2026 12:00:00 GMT</pubDate>
    </item>
    <item>
      <title>Undated notice</title>
      <link>https://gazette.example/undated</link>
      <guid>gazette-5</guid>
    </item>
  </channel>
</rss>
"""

ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr-FR">
  <title>Le Journal</title>
  <id>urn:journal</id>
  <updated>2026-03-02T10:00:00Z</updated>
  <entry>
    <title>Science du jour</title>
    <id>urn:journal:1</id>
    <link href="https://journal.example/1"/>
    <link rel="enclosure" type="image/jpeg" href="https://journal.example/1.jpg"/>
    <updated>2026-03-02T10:00:00+01:00</updated>
    <summary type="html">&lt;em&gt;Une&lt;/em&gt; découverte</summary>
    <category term="science"/>
    <author><name>Ann</name></author>
  </entry>
  <entry>
    <title>Hier</title>
    <id>urn:journal:2</id>
    <link href="https://journal.example/2"/>
    <published>2026-03-01T10:00:00Z</published>
    <updated>2026-03-02T10:00:00Z</updated>
  </entry>
  <entry>
    <title>Sans date</title>
    <id>urn:journal:3</id>
    <link href="https://journal.example/3"/>
  </entry>
</feed>
"""


def feeds(request: Request) -> Reply:
    pages = {
        "/feed.xml": Reply(200, RSS_FEED, {"Content-Type": "application/rss+xml"}),
        "/atom.xml": Reply(200, ATOM_FEED, {"Content-Type": "application/atom+xml"}),
        "/page.html": Reply(
            200,
            "<!DOCTYPE html><html><head><title>Hi</title></head><body><p>Hello<br>there</body>"
            "</html>",
            {"Content-Type": "text/html"},
        ),
        "/xhtml.html": Reply(
            200,
            "<html><head><title>Hi</title></head><body><p>Hello</p></body></html>",
            {"Content-Type": "text/html"},
        ),
        "/empty.xml": Reply(200, "", {"Content-Type": "application/rss+xml"}),
    }
    return pages.get(request.path, Reply(404, "no such feed", {"Content-Type": "text/plain"}))


def rss(server: LocalHTTPServer, *paths: str) -> RssNewsSource:
    return RssNewsSource(feed_urls=[server.url + path for path in paths], backoff_seconds=0)


def test_rss_keeps_only_the_days_entries_with_fields_mapped():
    with LocalHTTPServer(feeds) as server:
        batch = rss(server, "/feed.xml").fetch_day(DAY)

    assert batch.articles == [
        {
            "id": "gazette-1",
            "title": "Harbour reopens",
            "description": "<p>The <b>harbour</b> reopened at dawn.</p>",
            "url": "https://gazette.example/harbour",
            "author": None,
            "image": "https://gazette.example/harbour.jpg",
            "language": "en",
            "category": ["Local", "Transport"],
            "published": "2026-03-02T23:30:00+00:00",
        },
        {
            "id": "gazette-2",
            "title": "Market day",
            "description": "Stalls return to the square.",
            "url": "https://gazette.example/market",
            "author": None,
            "image": "https://gazette.example/market.png",
            "language": "en",
            "category": [],
            "published": "2026-03-02T08:15:00+00:00",
        },
    ]
    assert batch.details == {"feeds": 1, "undated_entries": 1}
    assert [(r.method, r.path) for r in server.requests] == [("GET", "/feed.xml")]


def test_atom_entries_are_mapped_and_filtered_to_the_day():
    with LocalHTTPServer(feeds) as server:
        batch = rss(server, "/atom.xml").fetch_day(DAY)

    assert batch.articles == [
        {
            "id": "urn:journal:1",
            "title": "Science du jour",
            "description": "<em>Une</em> découverte",
            "url": "https://journal.example/1",
            "author": "Ann",
            "image": "https://journal.example/1.jpg",
            "language": "fr",
            "category": ["science"],
            "published": "2026-03-02T09:00:00+00:00",
        }
    ]
    assert batch.details == {"feeds": 1, "undated_entries": 1}


def test_rss_reads_every_configured_feed():
    with LocalHTTPServer(feeds) as server:
        batch = rss(server, "/feed.xml", "/atom.xml").fetch_day(DAY)

    assert [a["id"] for a in batch.articles] == ["gazette-1", "gazette-2", "urn:journal:1"]
    assert batch.details == {"feeds": 2, "undated_entries": 2}
    assert [r.path for r in server.requests] == ["/feed.xml", "/atom.xml"]


def test_rss_articles_become_a_frame_with_entry_times_in_utc():
    with LocalHTTPServer(feeds) as server:
        batch = rss(server, "/feed.xml", "/atom.xml").fetch_day(DAY)

    frame, dropped = articles_to_frame(batch.articles, "rss", DAY)

    assert frame["id"].tolist() == ["gazette-2", "urn:journal:1", "gazette-1"]
    assert str(frame["published"].dt.tz) == "UTC"
    assert frame["published"].tolist() == [
        pd.Timestamp(datetime(2026, 3, 2, 8, 15, tzinfo=UTC)),
        pd.Timestamp(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
        pd.Timestamp(datetime(2026, 3, 2, 23, 30, tzinfo=UTC)),
    ]
    assert frame["image"].tolist() == [
        "https://gazette.example/market.png",
        "https://journal.example/1.jpg",
        "https://gazette.example/harbour.jpg",
    ]
    assert frame["category"].tolist() == [[], ["science"], ["local", "transport"]]
    assert frame["source"].unique().tolist() == ["rss"]
    assert dropped == {"no_text": 0, "no_id": 0, "outside_day": 0, "duplicate": 0}


def test_rss_html_page_instead_of_a_feed_raises_naming_the_url():
    with (
        LocalHTTPServer(feeds) as server,
        pytest.raises(NewsSourceError, match="is not valid RSS or Atom") as raised,
    ):
        rss(server, "/page.html").fetch_day(DAY)

    assert f"{server.url}/page.html" in str(raised.value)


@pytest.mark.parametrize("path", ["/xhtml.html", "/empty.xml"])
def test_rss_well_formed_non_feed_raises_naming_the_url(path):
    with (
        LocalHTTPServer(feeds) as server,
        pytest.raises(NewsSourceError, match="is not valid RSS or Atom") as raised,
    ):
        rss(server, path).fetch_day(DAY)

    assert f"{server.url}{path}" in str(raised.value)


def test_rss_http_404_raises_with_the_status_and_url():
    with LocalHTTPServer(feeds) as server, pytest.raises(NewsSourceError) as raised:
        rss(server, "/feed.xml", "/missing.xml").fetch_day(DAY)

    message = str(raised.value)
    assert f"feed {server.url}/missing.xml returned HTTP 404" in message
    assert "no such feed" in message


def test_rss_without_feed_urls_raises():
    with pytest.raises(NewsSourceError, match="GLIMPSE_NEWS_SOURCE=rss needs GLIMPSE_RSS_FEEDS"):
        RssNewsSource(feed_urls=[]).fetch_day(DAY)
