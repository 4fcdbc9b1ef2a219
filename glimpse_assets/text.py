"""Text cleaning for outside text (news articles, activity names, posted documents, captions):
HTML out, control characters out, whitespace normalised. Shared by every domain that takes text
from outside.

UTF-8 (accents, emoji, CJK) is kept as it is. Work on a huge body is bounded by cutting the raw
text before parsing it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from html.parser import HTMLParser

RAW_TEXT_LIMIT = 20_000  # characters of raw input looked at; more never reaches a prompt anyway

_SKIPPED_TAGS = {"script", "style", "head", "noscript", "template"}
_INVISIBLE = {
    "\u200b",
    "\u2060",
    "\ufeff",
    "\u00ad",
}  # zero-width space, word joiner, BOM, soft hyphen
_WHITESPACE = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        self.parts.append(" ")  # tags separate words: "<p>a</p><p>b</p>" is "a b"

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS and self._skipping:
            self._skipping -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


# Unicode's control characters (category Cc) are exactly U+0000-U+001F and U+007F-U+009F (tabs,
# newlines, NULs, escape codes): word boundaries at most. Surrogates (Cs) cannot be encoded as
# UTF-8, and the invisible marks carry nothing: both go. Two regular expressions, not a Python
# call per character: a day's cleaning is a few hundred texts.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_DROPPED = re.compile("[\ud800-\udfff" + "".join(sorted(_INVISIBLE)) + "]")


def _drop_controls(text: str) -> str:
    return _DROPPED.sub("", _CONTROL.sub(" ", text))


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def clean_text(value: object, raw_limit: int = RAW_TEXT_LIMIT) -> str:
    """Plain, single-spaced NFC text from whatever an API sent (None, HTML, entities, controls).

    Markup escaped twice (`&lt;p&gt;`, common in feeds) is stripped until nothing changes, so the
    result is a fixed point: cleaning it again gives the same text.
    """
    if is_missing(value):
        return ""
    text = str(value)[:raw_limit]
    while (stripped := strip_html(text)) != text:  # each changing pass makes the text shorter
        text = stripped
    text = _drop_controls(text)
    text = unicodedata.normalize("NFC", text)  # after removing invisibles, so accents combine
    return _WHITESPACE.sub(" ", text).strip()[:raw_limit].rstrip()


def truncate(text: str, max_chars: int) -> str:
    """At most `max_chars` characters, cut at a word boundary with an ellipsis when cut."""
    if len(text) <= max_chars:
        return text
    cut = text[: max(max_chars - 1, 0)]
    space = cut.rfind(" ")
    if text[len(cut)] != " " and space > max_chars // 2:  # not already at a word boundary
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"
