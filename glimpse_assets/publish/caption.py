"""The post's full caption, as Instagram, e-mail and the outbox take it: the text written for
readers (`caption_text`), the headline and link of the story it was written from, and hashtags
from the day's categories."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlparse

from glimpse_assets.text import clean_text, truncate

INSTAGRAM_CAPTION_LIMIT = 2_200
INSTAGRAM_MAX_HASHTAGS = 30
FIXED_HASHTAGS = ("#glimpse", "#dailynews")
MAX_HASHTAG_CHARS = 30
SOURCE_TITLE_CHARS = 120
SOURCE_URL_CHARS = 500  # a longer link is left out rather than fill the caption


def hashtag(word: str) -> str | None:
    """'#' + the word's letters and digits, in any script ("Börse" -> "#börse")."""
    letters = re.sub(r"[\W_]+", "", word).lower()[:MAX_HASHTAG_CHARS]
    return f"#{letters}" if letters else None


def web_link(url: str | None) -> str | None:
    """An http(s) URL without its fragment (a '#' would count as a hashtag), or None."""
    if not url or urlparse(url).scheme not in {"http", "https"}:
        return None
    link = url.split("#", 1)[0]
    return link if len(link) <= SOURCE_URL_CHARS and not any(c.isspace() for c in link) else None


def source_lines(sources: Iterable[Mapping[str, str | None]]) -> list[str]:
    """One line per source: its headline (shortened, without '#') and its link when it has a
    web link."""
    lines = []
    for source in sources:
        title = truncate(clean_text(source.get("title")).replace("#", ""), SOURCE_TITLE_CHARS)
        link = web_link(source.get("url"))
        line = " ".join(part for part in (title, link) if part)
        if line:
            lines.append(line)
    return lines


def build_caption(
    text: str,
    categories: list[str],
    limit: int = INSTAGRAM_CAPTION_LIMIT,
    max_tags: int = 8,
    sources: Iterable[Mapping[str, str | None]] = (),
) -> str:
    """The text, then its sources one a line, then a line of hashtags, blocks apart by a blank
    line: plain text (no control characters, which Instagram rejects), never longer than
    `limit` characters and never more than 30 hashtags. The text is what gets shortened."""
    candidates = dict.fromkeys([*FIXED_HASHTAGS, *filter(None, map(hashtag, categories))])
    tags: list[str] = []
    for tag in list(candidates)[: min(max_tags, INSTAGRAM_MAX_HASHTAGS)]:
        if len(" ".join([*tags, tag])) <= limit // 4:  # the text keeps most of the room
            tags.append(tag)
    tag_line = " ".join(tags)
    source_block = "\n".join(source_lines(sources))
    if len(source_block) > limit // 4:
        source_block = ""  # never at the text's expense
    body = clean_text(text).replace("#", "")  # the body's own '#' would count as hashtags
    room = limit - len(tag_line) - 2 - (len(source_block) + 2 if source_block else 0)
    if len(body) > room:
        body = body[: max(room - 1, 0)].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return "\n\n".join(block for block in (body, source_block, tag_line) if block)
