"""The outbox gallery: a static page of the recent days' posts, readable from any folder or
bucket (relative links only)."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlparse


def safe_link(url: str | None) -> str | None:
    """Only web links: a feed's `javascript:` or `data:` URL must not become a clickable href."""
    return url if url and urlparse(url).scheme in {"http", "https"} else None


def _headline(headline: dict[str, Any], source_urls: set[str]) -> str:
    link = safe_link(headline.get("url"))
    title = escape(headline["title"])
    if not link:
        return f"<li>{title}</li>"
    mark = ' class="source"' if link in source_urls else ""
    return f'<li{mark}><a href="{escape(link)}">{title}</a></li>'


def gallery_page(posts: list[dict[str, Any]]) -> str:
    """`posts` newest first; each has day, caption_text (the caption written for readers; a post
    stored before it existed shows its caption), image (a path relative to gallery/),
    headlines [{title, url}], main story first, and sources [{title, url}], the stories the
    caption was written from, whose headlines are marked `source`. Every text is escaped."""
    cards = []
    for post in posts:
        source_urls = {s.get("url") for s in post.get("sources") or [] if safe_link(s.get("url"))}
        headlines = "".join(_headline(h, source_urls) for h in post["headlines"])
        caption = escape(post.get("caption_text") or post["caption"]).replace("\n", "<br>")
        cards.append(
            f"""<article>
<img src="{escape(post["image"])}" alt="Glimpse of {escape(post["day"])}" width="512" height="512">
<div class="text"><h2>{escape(post["day"])}</h2>
<p class="caption">{caption}</p>
<ul class="headlines">{headlines}</ul></div>
</article>"""
        )
    body = "\n".join(cards) or "<p>No posts yet.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Glimpse gallery</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; background: #faf7f2; color: #222; margin: 0; }}
header {{ padding: 2rem; text-align: center; }}
main {{ display: grid; gap: 2rem; max-width: 70rem; margin: 0 auto 3rem; padding: 0 1rem; }}
article {{ display: grid; grid-template-columns: minmax(0, 512px) 1fr; gap: 1.5rem;
  background: #fff; border-radius: 12px; box-shadow: 0 2px 12px #0001; overflow: hidden; }}
article img {{ width: 100%; height: auto; display: block; }}
.text {{ padding: 1rem 1.5rem 1rem 0; }}
.caption {{ line-height: 1.5; }}
.headlines a {{ color: #2a5d8f; }}
@media (max-width: 800px) {{ article {{ grid-template-columns: 1fr; }} .text {{ padding: 1rem; }} }}
</style></head>
<body><header><h1>Glimpse</h1><p>The day's news, drawn.</p></header>
<main>
{body}
</main></body></html>
"""
