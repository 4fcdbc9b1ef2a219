"""The offline defaults: sample news source, extractive text provider and Pillow images."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.digest import build_digest
from glimpse_assets.news.image_prompt import (
    PROMPT_MAX_WORDS,
    PROMPT_MIN_WORDS,
    compose_image_prompt,
    image_prompt_request,
)
from glimpse_assets.news.sources import SampleNewsSource, sample_articles_for_day, sample_pool
from glimpse_assets.providers.base import ProviderOutputError, TextRequest
from glimpse_assets.providers.landscape import png_bytes, render_prompt_image
from glimpse_assets.providers.offline_image import OfflineImageProvider
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.providers.tfidf import (
    ENGLISH_STOP_WORDS,
    EmptyVocabularyError,
    sparse_tfidf,
    tfidf,
)

CURRENTS_KEYS = {"id", "title", "description", "url", "author", "image", "language", "category"}
DAYS = [date(2024, 1, 1), date(2024, 2, 29), date(2024, 7, 14), date(2025, 12, 31)]
DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


def sample_digest(day: date) -> dict:
    frame, _ = articles_to_frame(sample_articles_for_day(day, sample_pool()), "sample", day)
    return build_digest(frame, day)


def assert_valid_prompt(prompt: str) -> None:
    assert "\n" not in prompt
    assert PROMPT_MIN_WORDS <= len(prompt.split()) <= PROMPT_MAX_WORDS


# -- offline text ---------------------------------------------------------------------------


@pytest.mark.parametrize("day", DAYS)
def test_sample_day_prompt_is_one_paragraph_of_twenty_to_eighty_words(day):
    prompt = compose_image_prompt(sample_digest(day))
    assert_valid_prompt(prompt)
    assert prompt.startswith("An editorial illustration of the day's news:")


@pytest.mark.parametrize("day", DAYS)
def test_prompt_is_deterministic(day):
    assert compose_image_prompt(sample_digest(day)) == compose_image_prompt(sample_digest(day))


def test_prompt_differs_between_two_days():
    first, second = (compose_image_prompt(sample_digest(day)) for day in DAYS[:2])
    assert first != second


def test_prompt_names_the_main_story():
    digest = sample_digest(DAYS[0])
    prompt = compose_image_prompt(digest)
    assert " ".join(digest["main"]["title"].split()[:3]) in prompt


def wordless_digest(title: str, description: str) -> dict:
    return {
        "day": "2024-05-01",
        "main": {"title": title, "description": description},
        "related": [{"title": "And the of 2024", "description": "🎉 🎉 42 is it"}],
        "text": f"Main story: {title}\n{description}",
    }


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("The and of", "It is what it is. And so on and so forth."),
        ("2024 100 7", "12 34 56. 78 90 12."),
        ("🎉🎉🎉", "☄️ 🎆 🎉"),
        ("", ""),
    ],
)
def test_stop_words_numbers_and_emoji_still_give_a_valid_prompt(title, description):
    assert_valid_prompt(compose_image_prompt(wordless_digest(title, description)))


TEXT = st.text(max_size=400)


@settings(max_examples=50, deadline=None)
@given(TEXT, TEXT, st.lists(st.tuples(TEXT, TEXT), max_size=4))
def test_any_digest_gives_a_valid_prompt(title, description, related):
    digest = {
        "main": {"title": title, "description": description},
        "related": [{"title": t, "description": d} for t, d in related],
    }
    assert_valid_prompt(compose_image_prompt(digest))


def test_offline_text_provider_says_it_is_not_an_llm():
    digest = sample_digest(DAYS[0])
    (result,) = OfflineTextProvider().complete(None, [image_prompt_request(digest)])
    assert result.provider == "offline"
    assert result.model == "tfidf-extractive"
    assert "not an LLM" in result.method
    assert result.text == compose_image_prompt(digest)


def test_offline_text_provider_writes_each_request_with_its_own_writer_in_order():
    requests = [
        TextRequest(
            messages=[{"role": "user", "content": f"say {n}"}],
            shape=str.strip,
            offline=lambda n=n: f"text {n}",
            offline_model=f"model {n}",
            offline_method=f"method {n}",
        )
        for n in range(3)
    ]
    results = OfflineTextProvider().complete(None, requests)
    assert [(r.text, r.model, r.method) for r in results] == [
        (f"text {n}", f"model {n}", f"method {n}") for n in range(3)
    ]
    assert {r.provider for r in results} == {"offline"}
    assert OfflineTextProvider().complete(None, []) == []


def test_an_offline_writer_that_fails_its_checks_fails_once_naming_the_request():
    def refused() -> str:
        raise ProviderOutputError("the caption has 2 words")

    request = TextRequest([], str.strip, refused, "m", "method", label="the offline caption")
    with pytest.raises(dg.Failure, match="the offline caption failed the output checks") as info:
        OfflineTextProvider().complete(None, [request])
    assert info.value.allow_retries is False


# -- offline image --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lantern_png() -> bytes:
    return png_bytes(render_prompt_image("Paper lanterns over a quiet harbour at dusk"))


def test_rendered_image_is_a_1024_square_rgb():
    image = render_prompt_image("Paper lanterns over a quiet harbour at dusk")
    assert image.size == (1024, 1024)
    assert image.mode == "RGB"


def test_same_prompt_gives_identical_png_bytes(lantern_png):
    again = png_bytes(render_prompt_image("Paper lanterns over a quiet harbour at dusk"))
    assert again == lantern_png


def test_different_prompt_gives_different_png_bytes(lantern_png):
    other = png_bytes(render_prompt_image("Paper lanterns over a quiet harbour at dawn"))
    assert other != lantern_png


def test_png_bytes_are_a_readable_png(lantern_png):
    with Image.open(io.BytesIO(lantern_png)) as image:
        assert image.format == "PNG"
        assert image.size == (1024, 1024)


def test_offline_image_provider_says_it_is_not_an_image_model(lantern_png):
    result = OfflineImageProvider().draw(None, "Paper lanterns over a quiet harbour at dusk")
    assert result.provider == "offline"
    assert "not an image model" in result.method
    assert result.png == lantern_png


# -- sample source --------------------------------------------------------------------------


def test_sample_pool_has_at_least_sixty_currents_shaped_articles():
    pool = sample_pool()
    assert len(pool) >= 60
    for item in pool:
        assert set(item) >= CURRENTS_KEYS
    assert len({item["id"] for item in pool}) == len(pool)


def test_a_days_draw_is_deterministic():
    day = DAYS[2]
    assert sample_articles_for_day(day, sample_pool()) == sample_articles_for_day(
        day, sample_pool()
    )


def test_draws_differ_across_days():
    draws = [
        [item["id"].rsplit("-", 1)[0] for item in sample_articles_for_day(day, sample_pool())]
        for day in DAYS
    ]
    assert len({tuple(draw) for draw in draws}) == len(DAYS)


def test_the_draw_does_not_change_the_pool():
    before = [dict(item) for item in sample_pool()]
    sample_articles_for_day(DAYS[0], sample_pool())
    assert [dict(item) for item in sample_pool()] == before


@settings(max_examples=100, deadline=None)
@given(DATES)
@pytest.mark.slow
def test_every_article_is_published_inside_its_utc_day_with_a_unique_id(day):
    articles = sample_articles_for_day(day, sample_pool())
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert 8 <= len(articles) <= 14
    for item in articles:
        published = datetime.strptime(item["published"], "%Y-%m-%d %H:%M:%S %z")
        assert start <= published < start + timedelta(days=1)
        assert set(item) >= CURRENTS_KEYS
    assert len({item["id"] for item in articles}) == len(articles)


@settings(max_examples=20, deadline=None)
@given(DATES)
def test_no_sample_article_is_dropped_by_articles_to_frame(day):
    articles = sample_articles_for_day(day, sample_pool())
    frame, dropped = articles_to_frame(articles, "sample", day)
    assert len(frame) == len(articles)
    assert sum(dropped.values()) == 0


def test_sample_news_source_fetches_the_days_draw():
    source = SampleNewsSource()
    batch = source.fetch_day(DAYS[1])
    assert source.kind == "sample"
    assert batch.articles == sample_articles_for_day(DAYS[1], sample_pool())
    assert batch.details["fictional"] is True
    assert batch.details["pool_size"] == len(sample_pool())


def test_sample_news_source_honours_its_article_bounds():
    batch = SampleNewsSource(min_articles=3, max_articles=3).fetch_day(DAYS[0])
    assert len(batch.articles) == 3


# -- TF-IDF: providers.tfidf is scikit-learn's TfidfVectorizer, without importing it -----------

EXTRACTIVE_TOKENS = r"(?u)\b[^\W\d_]{3,}\b"  # the extractive composer's words


def sklearn_tfidf(documents: list[str], token_pattern: str | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    options = {"token_pattern": token_pattern} if token_pattern else {}
    vectorizer = TfidfVectorizer(stop_words="english", **options)
    matrix = vectorizer.fit_transform(documents).toarray()
    return list(vectorizer.get_feature_names_out()), matrix


def sample_day_texts(day: date) -> list[str]:
    frame, _ = articles_to_frame(sample_articles_for_day(day, sample_pool()), "sample", day)
    return (frame["title"] + ". " + frame["description"]).tolist()


def test_the_stop_words_are_scikit_learns():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as theirs

    assert theirs == ENGLISH_STOP_WORDS


@pytest.mark.parametrize("day", [date(2026, 3, 1) + timedelta(days=n) for n in range(0, 60, 3)])
@pytest.mark.parametrize("token_pattern", [None, EXTRACTIVE_TOKENS])
def test_tfidf_equals_scikit_learn_on_sample_days(day, token_pattern):
    texts = sample_day_texts(day)
    terms, weights = sklearn_tfidf(texts, token_pattern)
    ours = tfidf(texts, token_pattern) if token_pattern else tfidf(texts)
    assert ours.terms == terms
    assert np.allclose(ours.weights, weights, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=60), min_size=1, max_size=8))
def test_tfidf_equals_scikit_learn_on_any_text(documents):
    try:
        terms, weights = sklearn_tfidf(documents)
    except ValueError:  # an empty vocabulary: we say so too
        with pytest.raises(EmptyVocabularyError):
            tfidf(documents)
        return
    ours = tfidf(documents)
    assert ours.terms == terms
    assert np.allclose(ours.weights, weights, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab cd ef gh", min_size=0, max_size=30), min_size=1, max_size=9))
def test_summed_similarity_is_the_similarity_matrix_summed_without_its_diagonal(documents):
    try:
        matrix = sparse_tfidf(documents)
    except EmptyVocabularyError:
        return
    weights = matrix.dense()
    similarity = weights @ weights.T
    np.fill_diagonal(similarity, 0.0)
    assert np.allclose(matrix.summed_similarity(), similarity.sum(axis=1), rtol=0, atol=1e-12)
    assert np.array_equal(weights, tfidf(documents).weights)


@pytest.mark.parametrize("day", [date(2026, 3, 1) + timedelta(days=n) for n in range(0, 60, 3)])
def test_the_main_story_and_the_prompt_are_the_ones_scikit_learn_gives(day, monkeypatch):
    """Centrality, the ranking and the prompt's keywords and key sentence, with scikit-learn's
    own vectors swapped in for ours: the same digest and the same prompt."""
    from glimpse_assets.news import digest as digest_module
    from glimpse_assets.providers import extractive
    from glimpse_assets.providers.tfidf import SparseTfidf, TfidfMatrix

    ours = sample_digest(day)
    ours_prompt = compose_image_prompt(ours)

    def reference(documents, token_pattern=None):
        try:
            terms, weights = sklearn_tfidf(documents, token_pattern)
        except ValueError as error:
            raise EmptyVocabularyError(str(error)) from None
        return TfidfMatrix(terms, weights)

    def sparse_reference(documents):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(stop_words="english")
        try:
            matrix = vectorizer.fit_transform(documents)
        except ValueError as error:
            raise EmptyVocabularyError(str(error)) from None
        terms = list(vectorizer.get_feature_names_out())
        return SparseTfidf(terms, matrix.indptr, matrix.indices, matrix.data)

    monkeypatch.setattr(digest_module, "sparse_tfidf", sparse_reference)
    monkeypatch.setattr(extractive, "tfidf", reference)
    theirs = sample_digest(day)
    assert ours == theirs
    assert ours_prompt == compose_image_prompt(theirs)
