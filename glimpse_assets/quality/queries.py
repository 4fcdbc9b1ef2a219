"""The labelled search query set shipped with the package (`data/search_queries.json`).

Two queries per article of the offline sample pool (`data/sample_news.json`), each labelled with
the article's url, which the sample source keeps on every day it draws the article (its id gets
the day appended, its url does not; the index returns the url with every hit). So the expected
answer of every query is known for ANY day the sample source produces: a day's queries are
those whose url is among that day's articles (`queries_for`), and the day's index should find
each of them.

The rule, deterministic, on the text as the search chain indexes it (`text.clean_text`):
- a word is a run of letters and digits, with inner hyphens or apostrophes ("twenty-six",
  "dragon's"); a content word is a word of at least 4 characters not in `STOP_WORDS`;
- `title` query: the title's 4 longest content words (the earlier on a tie), in title order,
  lowercased: the key words a reader remembers of a headline, without its verbs and little
  words, e.g. "Comet Wrenfield Grows a Bright Green Tail as It Nears the Sun" ->
  "comet wrenfield grows bright";
- `detail` query: the content words of the description's second sentence (its first when it
  has one) that are not in the title (compared lowercased, a trailing "s" ignored), the first
  6, lowercased: what the article says beyond its headline, which only its body can match,
  e.g. "long boat carved golden dragon's head".
Neither is a sentence of the article verbatim; the detail query shares no word with the title.

Regenerate after changing the pool: `python -m glimpse_assets.quality.queries` (writes the file);
`--check` fails when the shipped file is not what the rule gives (also a test).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from glimpse_assets.text import clean_text

QUERY_FILE = "search_queries.json"
POOL_FILE = "sample_news.json"
RULE_VERSION = 1
TITLE_WORDS = 4
DETAIL_WORDS = 6
MIN_CONTENT_CHARS = 4
KINDS = ("title", "detail")

_STOP_WORDS = """
    about above after again against also among an and another any are around as at away back
    be because been before being below between both but by can could did does doing down
    during each even every few for from further had has have having her here hers him his how
    into its itself just more most much near next not now off once only onto other our
    ours out over own same she should since some such than that the their theirs them then
    there these they this those through thus till too under until upon very was were what
    when where which while who whom whose why will with within without would year years your
    yours first last many several
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"[^\W_]+(?:[-'\u2019][^\W_]+)*", re.UNICODE)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class LabelledQuery:
    id: str  # "<article>-<kind>"
    kind: str  # "title" or "detail"
    query: str
    article: str  # the pool article's id ("sample-004"; a day's copy is "sample-004-20261101")
    url: str  # the expected answer: the url of a hit


def content_words(text: str) -> list[str]:
    return [
        word
        for word in _WORD.findall(text)
        if len(word) >= MIN_CONTENT_CHARS and word.lower() not in STOP_WORDS
    ]


def _key(word: str) -> str:
    return word.lower().removesuffix("s")


def title_query(title: str) -> str:
    words = content_words(clean_text(title))
    by_length = sorted(range(len(words)), key=lambda i: (-len(words[i]), i))[:TITLE_WORDS]
    return " ".join(words[i].lower() for i in sorted(by_length))


def detail_query(title: str, description: str) -> str:
    parts = [s for s in _SENTENCE_SPLIT.split(clean_text(description)) if s.strip()]
    sentence = parts[1] if len(parts) > 1 else parts[0] if parts else ""
    in_title = {_key(word) for word in _WORD.findall(clean_text(title))}
    words = [word for word in content_words(sentence) if _key(word) not in in_title]
    return " ".join(word.lower() for word in words[:DETAIL_WORDS])


def build_queries(articles: Iterable[dict[str, Any]]) -> list[LabelledQuery]:
    """The labelled queries of `articles` (pool articles: id, title, description, url), in pool
    order, title query first; an article without a url, or a query with no word, gives none."""
    queries = []
    for article in articles:
        if not article.get("url"):
            continue
        texts = {
            "title": title_query(article.get("title") or ""),
            "detail": detail_query(article.get("title") or "", article.get("description") or ""),
        }
        for kind in KINDS:
            if texts[kind]:
                queries.append(
                    LabelledQuery(
                        f"{article['id']}-{kind}",
                        kind,
                        texts[kind],
                        article["id"],
                        article["url"],
                    )
                )
    return queries


def _pool() -> list[dict[str, Any]]:
    text = resources.files("glimpse_assets.data").joinpath(POOL_FILE).read_text("utf-8")
    return json.loads(text)["articles"]


def query_set_document(queries: Sequence[LabelledQuery]) -> dict[str, Any]:
    return {
        "description": (
            "Labelled search queries for the offline sample news: two per article of "
            f"{POOL_FILE}, the expected answer being the article's url. Made by the rule in "
            "glimpse_assets/quality/queries.py (regenerate: python -m "
            "glimpse_assets.quality.queries)."
        ),
        "rule_version": RULE_VERSION,
        "source": POOL_FILE,
        "queries": [asdict(query) for query in queries],
    }


def render(queries: Sequence[LabelledQuery]) -> str:
    return json.dumps(query_set_document(queries), indent=1, ensure_ascii=False) + "\n"


@cache
def load_queries() -> tuple[LabelledQuery, ...]:
    """The shipped query set."""
    text = resources.files("glimpse_assets.data").joinpath(QUERY_FILE).read_text("utf-8")
    return tuple(LabelledQuery(**query) for query in json.loads(text)["queries"])


def queries_for(
    urls: Iterable[str | None], queries: Sequence[LabelledQuery] | None = None
) -> list[LabelledQuery]:
    """The labelled queries whose expected url is among `urls` (a day's articles), in set order:
    none for a day of other news than the sample pool's (then the check has nothing to run)."""
    present = {url for url in urls if url}
    return [
        query for query in (load_queries() if queries is None else queries) if query.url in present
    ]


def main(argv: Sequence[str]) -> int:
    path = Path(str(resources.files("glimpse_assets.data").joinpath(QUERY_FILE)))
    wanted = render(build_queries(_pool()))
    if "--check" in argv:
        current = path.read_text("utf-8") if path.exists() else ""
        if current != wanted:
            print(
                f"{path} is not what the rule gives: run python -m glimpse_assets.quality.queries"
            )
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(wanted, "utf-8")
    print(f"wrote {len(build_queries(_pool()))} queries to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
