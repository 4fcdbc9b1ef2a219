"""clean_text, strip_html and truncate: what outside text looks like once it is cleaned."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from glimpse_assets.text import RAW_TEXT_LIMIT, clean_text, strip_html, truncate

# Fragments real feeds send, mixed with arbitrary text so hypothesis explores HTML-ish input.
_FRAGMENTS = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<br/>",
        "<b>",
        "</b>",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "&amp;",
        "&lt;",
        "&gt;",
        "&nbsp;",
        "&#8203;",
        "&eacute;",
        "\x00",
        "\x1b",
        "\t",
        "\n",
        "\r",
        "\u200b",
        "\ufeff",
        "\u00ad",
        "e\u0301",
        "é",
        "🎉",
        "東京",
        " ",
        "  ",
        "word",
        "<",
        ">",
        "&",
    ]
)
MESSY_TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join),
)
SETTINGS = settings(max_examples=100, deadline=None)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)


def test_tags_separate_words():
    assert clean_text("<p>a</p><p>b</p>") == "a b"
    assert clean_text("one<br>two") == "one two"


def test_entities_are_decoded():
    assert clean_text("Fish &amp; chips&nbsp;for&nbsp;two, caf&eacute;") == (
        "Fish & chips for two, café"
    )


def test_script_and_style_content_is_dropped():
    html = "<style>p { color: red }</style><p>Hello</p><script>alert('x')</script> world"
    assert clean_text(html) == "Hello world"


def test_strip_html_leaves_plain_text_alone():
    assert strip_html("plain words, no markup") == "plain words, no markup"


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\t", "\n", "\r", "\r\n", "\x00\x1b\t"])
def test_control_characters_become_one_space(control):
    assert clean_text(f"left{control}right") == "left right"


def test_zero_width_characters_and_bom_are_removed():
    assert clean_text("\ufeffzero\u200bwidth\u2060joined soft\u00adhyphen") == (
        "zerowidthjoined softhyphen"
    )


def test_emoji_accents_and_cjk_are_kept():
    text = "Comet ☄️ over Zürich, 東京 and Ελλάδα 🎉"
    assert clean_text(text) == text


def test_output_is_nfc_normalised():
    assert clean_text("Cafe\u0301") == "Café"
    assert clean_text("Cafe\u0301") == unicodedata.normalize("NFC", "Café")


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_values_become_empty_text(missing):
    assert clean_text(missing) == ""


def test_non_text_values_are_stringified():
    assert clean_text(42) == "42"


def test_a_one_megabyte_article_body_is_bounded():
    body = "<p>" + "All the news that fits, and then some more. " * 24_000 + "</p>"
    assert len(body) > 1_000_000
    cleaned = clean_text(body)
    assert 0 < len(cleaned) <= RAW_TEXT_LIMIT
    assert cleaned.startswith("All the news")


def test_bound_holds_for_characters_that_nfc_expands():
    # U+0958 (DEVANAGARI LETTER QA) is a composition exclusion: NFC turns it into two characters.
    assert len(clean_text("\u0958" * RAW_TEXT_LIMIT)) <= RAW_TEXT_LIMIT


def test_removing_invisible_characters_leaves_nfc_text():
    # A zero-width space between a base letter and its combining accent.
    assert clean_text("Cafe\u200b\u0301") == "Café"


@pytest.mark.parametrize("escaped", ["&lt;p&gt;Hello&lt;/p&gt;", "Fish &amp;amp; chips"])
def test_entity_escaped_markup_is_cleaned_to_a_fixed_point(escaped):
    once = clean_text(escaped)
    assert clean_text(once) == once


@SETTINGS
@given(MESSY_TEXT)
def test_clean_text_output_has_no_controls_and_single_spaces(text):
    cleaned = clean_text(text)
    assert not _has_control(cleaned)
    assert re.search(r"\s{2,}", cleaned) is None
    assert cleaned == cleaned.strip()


@SETTINGS
@given(st.one_of(MESSY_TEXT, st.text(alphabet=st.characters(categories=["Cs", "L"]))))
def test_clean_text_output_always_encodes_as_utf8(text):
    clean_text(text).encode("utf-8")


@SETTINGS
@example("&lt;b&gt;bold&lt;/b&gt;")
@example("e\u200b\u0301")
@given(MESSY_TEXT)
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@SETTINGS
@given(st.text(alphabet=st.characters(exclude_characters="&\u200b\u2060\ufeff\u00ad")))
def test_clean_text_is_idempotent_without_entities_or_invisible_marks(text):
    once = clean_text(text)
    assert clean_text(once) == once


def test_truncate_keeps_short_text_unchanged():
    assert truncate("short text", 20) == "short text"
    assert truncate("exactly ten", 11) == "exactly ten"


def test_truncate_cuts_at_a_word_boundary_with_an_ellipsis():
    text = "The quick brown fox jumps over the lazy dog"
    result = truncate(text, 20)
    assert len(result) <= 20
    assert result.endswith("…")
    kept = result[:-1]
    assert text.startswith(kept)
    assert text[len(kept)] == " "  # whole words only


def test_truncate_cuts_a_long_word_hard():
    result = truncate("a" * 50, 10)
    assert result == "a" * 9 + "…"


@SETTINGS
@given(st.text(max_size=300), st.integers(min_value=1, max_value=400))
def test_truncate_never_exceeds_max_chars(text, max_chars):
    result = truncate(text, max_chars)
    assert len(result) <= max_chars
    if len(text) <= max_chars:
        assert result == text
    else:
        assert result.endswith("…")
