"""The day's articles combined into one bounded input for the text provider.

Ranking (deterministic, documented in docs/domains/news.md): the main story is the most
*central* one, the article whose TF-IDF vector (title + description, English stop words removed)
has the highest summed cosine similarity to the day's other articles: the story the day talks
about most. Ties are broken by: has an image, longer description, earlier publication, then id.

The TF-IDF vectors are scikit-learn's with its defaults, computed by `providers.tfidf` (numpy):
importing scikit-learn cost more than this whole step (see that module).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from glimpse_assets.providers.tfidf import EmptyVocabularyError, sparse_tfidf
from glimpse_assets.text import clean_text, truncate

RANKING_RULE = (
    "centrality: summed TF-IDF cosine similarity of title+description to the day's other "
    "articles; ties: has image, longer description, earlier published, id"
)


class EmptyNewsDayError(ValueError):
    """There is nothing to digest for the day."""


@dataclass(frozen=True)
class DigestBudget:
    """Bounds that keep one huge or numerous day from blowing up the prompt."""

    title_chars: int = 200
    description_chars: int = 600
    related_stories: int = 6
    related_description_chars: int = 240
    total_chars: int = 3_000


def clean_articles(raw_news: pd.DataFrame, budget: DigestBudget) -> pd.DataFrame:
    """Cleaned, budgeted title and description per article (HTML and controls removed)."""
    frame = raw_news.copy()
    frame["title"] = [truncate(clean_text(t), budget.title_chars) for t in frame["title"]]
    frame["description"] = [
        truncate(clean_text(d), budget.description_chars) for d in frame["description"]
    ]
    return frame


def centrality_scores(texts: list[str]) -> np.ndarray:
    """Summed cosine similarity of each text to the others (0 for a lone or wordless day), from
    the sparse weights and their column sums: no texts x texts similarity matrix (5,000 articles
    would make it 200 MB) and no dense texts x terms one."""
    if len(texts) < 2:
        return np.zeros(len(texts))
    try:
        matrix = sparse_tfidf(texts)
    except EmptyVocabularyError:  # nothing but stop words, numbers or symbols
        return np.zeros(len(texts))
    # Rounded so that float noise in the last bits can never reorder equal stories.
    return np.round(matrix.summed_similarity(), 9)


def _missing_last(values: pd.Series) -> list[tuple[int, Any]]:
    """Sort keys that put missing values last, as pandas' sort_values does."""
    return [(1, 0) if pd.isna(v) else (0, v) for v in values]


def rank_articles(articles: pd.DataFrame) -> pd.DataFrame:
    """The articles, most central first (see the module docstring for the full rule).

    Sorted in Python on one key per article: a day has tens of articles, for which a DataFrame
    sort on five columns cost several times more than the ranking itself."""
    texts = (articles["title"].fillna("") + ". " + articles["description"].fillna("")).tolist()
    centrality = centrality_scores(texts)
    has_image = articles["image"].notna().tolist()
    description_length = articles["description"].fillna("").str.len().tolist()
    published = _missing_last(articles["published"])
    ids = _missing_last(articles["id"])
    order = sorted(
        range(len(articles)),
        key=lambda i: (
            -centrality[i],
            not has_image[i],
            -description_length[i],
            published[i],
            ids[i],
        ),
    )
    ranked = articles.iloc[order].assign(_centrality=centrality[order])
    return ranked.reset_index(drop=True)


def category_counts(categories: pd.Series) -> list[dict[str, Any]]:
    counts = Counter(c for items in categories for c in (list(items) if items is not None else []))
    return [
        {"category": c, "articles": n}
        for c, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
    ]


def _story(row: pd.Series, description_chars: int) -> dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "description": truncate(row["description"], description_chars),
        "url": row["url"] if pd.notna(row["url"]) else None,
        "published": row["published"].isoformat(),
        "categories": [str(c) for c in row["category"]] if row["category"] is not None else [],
        "centrality": float(row["_centrality"]),
    }


def digest_text(main: dict[str, Any], related: list[dict[str, Any]], categories, limit: int) -> str:
    """The combined input, line by line, within `limit` characters (whole lines where possible)."""
    lines = [f"Main story: {main['title']}", main["description"]]
    if related:
        lines.append("Related stories:")
        lines += [f"- {story['title']}: {story['description']}" for story in related]
    if categories:
        lines.append("Categories: " + ", ".join(item["category"] for item in categories))
    kept: list[str] = []
    used = 0
    for line in filter(None, lines):
        room = limit - used - (1 if kept else 0)
        if room <= 0:
            break
        kept.append(line if len(line) <= room else truncate(line, room))
        used += len(kept[-1]) + (1 if len(kept) > 1 else 0)
    return "\n".join(kept)


def main_story_id(raw_news: pd.DataFrame, budget: DigestBudget | None = None) -> str:
    """The id of the article `build_digest` makes the main story (the sample source uses it to
    vary the main story from day to day)."""
    if raw_news.empty:
        raise EmptyNewsDayError("no articles: no main story")
    return str(rank_articles(clean_articles(raw_news, budget or DigestBudget())).iloc[0]["id"])


def build_digest(raw_news: pd.DataFrame, day: date, budget: DigestBudget | None = None) -> dict:
    """One JSON-ready digest of the day: main story, related stories, categories, bounded text."""
    budget = budget or DigestBudget()
    if raw_news.empty:
        raise EmptyNewsDayError(f"no articles for {day.isoformat()}: nothing to digest")
    ranked = rank_articles(clean_articles(raw_news, budget))
    main = _story(ranked.iloc[0], budget.description_chars)
    related = [
        _story(row, budget.related_description_chars)
        for _, row in ranked.iloc[1 : 1 + budget.related_stories].iterrows()
    ]
    categories = category_counts(raw_news["category"])
    text = digest_text(main, related, categories, budget.total_chars)
    return {
        "day": day.isoformat(),
        "article_count": len(raw_news),
        "main": main,
        "related": related,
        "categories": categories,
        "text": text,
        "text_chars": len(text),
        "budget_chars": budget.total_chars,
        "ranking": RANKING_RULE,
    }


def digest_markdown(digest: dict) -> str:
    """A short Markdown preview for the Dagster UI."""
    main = digest["main"]
    lines = [
        f"**Main story:** [{main['title']}]({main['url']})"
        if main["url"]
        else f"**Main story:** {main['title']}",
        "",
        f"> {main['description']}",
        "",
        "| related story | centrality |",
        "|---|---|",
    ]
    lines += [
        f"| {s['title'].replace('|', '/')} | {s['centrality']:.3f} |" for s in digest["related"]
    ]
    cats = ", ".join(f"{c['category']} ({c['articles']})" for c in digest["categories"])
    lines += ["", f"**Categories:** {cats or 'none'}"]
    return "\n".join(lines)
