"""The post's caption: the image prompt or the main headline, and hashtags from the categories."""

from __future__ import annotations

import re

from glimpse_assets.news.text import clean_text

INSTAGRAM_CAPTION_LIMIT = 2_200
INSTAGRAM_MAX_HASHTAGS = 30
FIXED_HASHTAGS = ("#glimpse", "#dailynews")
MAX_HASHTAG_CHARS = 30


def hashtag(word: str) -> str | None:
    """'#' + the word's letters and digits, in any script ("Börse" -> "#börse")."""
    letters = re.sub(r"[\W_]+", "", word).lower()[:MAX_HASHTAG_CHARS]
    return f"#{letters}" if letters else None


def build_caption(
    text: str, categories: list[str], limit: int = INSTAGRAM_CAPTION_LIMIT, max_tags: int = 8
) -> str:
    """Plain text (no control characters, which Instagram rejects), then a line of hashtags;
    never longer than `limit` characters and never more than 30 hashtags."""
    candidates = dict.fromkeys([*FIXED_HASHTAGS, *filter(None, map(hashtag, categories))])
    tags: list[str] = []
    for tag in list(candidates)[: min(max_tags, INSTAGRAM_MAX_HASHTAGS)]:
        if len(" ".join([*tags, tag])) <= limit // 4:  # the text keeps most of the room
            tags.append(tag)
    tag_line = " ".join(tags)
    body = clean_text(text).replace("#", "")  # the body's own '#' would count as hashtags
    room = limit - len(tag_line) - 2
    if len(body) > room:
        body = body[: max(room - 1, 0)].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return f"{body}\n\n{tag_line}" if body else tag_line
