"""The shipped labelled query set: what its rule gives, labels every sample day can use, and
scores on the real chunking and MiniLM that a worse chunking lowers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from importlib import resources

import numpy as np
import pytest

from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.sources import SampleNewsSource, sample_pool
from glimpse_assets.providers.minilm import word_piece_tokenizer
from glimpse_assets.quality.queries import (
    build_queries,
    content_words,
    detail_query,
    load_queries,
    main,
    queries_for,
    render,
    title_query,
)
from glimpse_assets.quality.retrieval import mean_reciprocal_rank, recall_at_k
from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.search.chunking import chunk_documents
from glimpse_assets.search.documents import news_documents


def test_the_shipped_file_is_what_the_rule_gives():
    shipped = resources.files("glimpse_assets.data").joinpath("search_queries.json")
    assert shipped.read_text("utf-8") == render(build_queries(sample_pool()))
    assert main(["--check"]) == 0
    document = json.loads(shipped.read_text("utf-8"))
    assert document["source"] == "sample_news.json" and len(document["queries"]) == 144


def test_the_rule_on_two_articles():
    title = "Comet Wrenfield Grows a Bright Green Tail as It Nears the Sun"
    assert title_query(title) == "comet wrenfield grows bright"
    kestrel = next(a for a in sample_pool() if a["id"] == "sample-004")
    assert detail_query(kestrel["title"], kestrel["description"]) == (
        "long carved golden dragon's head choppy"  # "boat" is in the title: left out
    )
    assert detail_query("A title", "Only one sentence about lanterns here.") == (
        "sentence lanterns"  # "only", "about" and "here" are stop words, "one" too short
    )
    assert content_words("The ice owl & a ten-metre comet's tail") == [
        "ten-metre",
        "comet's",
        "tail",
    ]


def test_every_article_has_two_queries_neither_its_headline():
    queries = load_queries()
    pool = {article["id"]: article for article in sample_pool()}
    assert sorted({q.article for q in queries}) == sorted(pool)
    for query in queries:
        article = pool[query.article]
        assert query.url == article["url"] and query.id == f"{query.article}-{query.kind}"
        assert query.query.lower() != article["title"].lower()
        sentences = article["description"].lower().replace("!", ".").split(". ")
        assert all(query.query != s.strip(" .") for s in sentences)
        if query.kind == "detail":
            title_words = {w.lower().removesuffix("s") for w in article["title"].split()}
            assert not {w.removesuffix("s") for w in query.query.split()} & title_words
    assert len({q.query for q in queries}) == len(queries)  # no two queries alike


@pytest.mark.parametrize("start", [date(2026, 1, 1), date(2026, 11, 1), date(2031, 6, 9)])
def test_every_sample_day_has_its_labelled_queries(start):
    source = SampleNewsSource()
    for day in (start + timedelta(days=n) for n in range(10)):
        articles = source.fetch_day(day).articles
        urls = [article["url"] for article in articles]
        queries = queries_for(urls)
        assert len(queries) == 2 * len(set(urls))
        assert {q.url for q in queries} == set(urls)


def test_a_day_of_other_news_has_no_query_and_is_skipped():
    assert queries_for(["https://example.com/a", None]) == []
    assert recall_at_k([], [q.url for q in queries_for([])], k=5).status == "skipped"


def url_results(chunks, queries: list[str], k: int = 5) -> list[list[str]]:
    """Cosine search of each query over the chunks' MiniLM vectors, one result per url (as the
    index reader returns them): the first k urls of each, best first."""
    vectors = minilm_embed([chunk.text for chunk in chunks])
    results = []
    for query_vector in minilm_embed(queries):
        urls: list[str] = []
        for index in np.argsort(-(vectors @ query_vector), kind="stable"):
            if chunks[index].url not in urls:
                urls.append(chunks[index].url)
            if len(urls) == k:
                break
        results.append(urls)
    return results


def documents_of(articles, day: date):
    frame, _ = articles_to_frame(articles, "sample", day)
    return news_documents(frame)


def test_a_sample_day_scores_well_on_the_shipped_chunking():
    day = date(2026, 11, 1)
    articles = SampleNewsSource().fetch_day(day).articles
    chunks = chunk_documents(documents_of(articles, day), word_piece_tokenizer())
    queries = queries_for([a["url"] for a in articles])
    results = url_results(chunks, [q.query for q in queries])
    expected = [q.url for q in queries]
    recall = recall_at_k(results, expected, 5, threshold=0.9)
    mrr = mean_reciprocal_rank(results, expected, 5, threshold=0.85)
    assert recall.passed and mrr.passed, (recall, mrr)


@pytest.mark.slow
def test_a_chunking_that_drops_the_body_is_caught():
    day = date(2026, 11, 1)
    noon = f"{day} 12:00:00 +0000"
    # Half the pool (36 articles): the shipped chunking against titles alone, on what only the
    # body says (a corpus larger than a day's, so that k=5 is not most of it).
    pool = [{**article, "published": noon} for article in sample_pool()[:36]]
    documents = documents_of(pool, day)
    detail = [q for q in queries_for([a["url"] for a in pool]) if q.kind == "detail"]

    def recall(docs) -> float:
        chunks = chunk_documents(docs, word_piece_tokenizer())
        results = url_results(chunks, [q.query for q in detail])
        return recall_at_k(results, [q.url for q in detail], 5).value

    shipped = recall(documents)
    titles_only = recall([replace(document, text="") for document in documents])
    assert shipped >= 0.75 and titles_only < shipped - 0.15, (shipped, titles_only)
