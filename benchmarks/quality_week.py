"""One week of quality scores on the offline sample data, and a worse chunking caught by them.

For each day (default 2026-11-01..07) the real offline chain, run as plain functions:
- search: the day's sample articles (`SampleNewsSource`) -> `news_documents` -> chunks
  (`chunk_documents`, the shipped chunking) -> MiniLM vectors -> the LanceDB index
  (`index_rows`, `upsert_day`, in a temp folder) -> the day's labelled queries
  (`quality.queries.queries_for`) searched with `SearchIndex.search(..., since=day, until=day)`
  -> recall@k and MRR (`quality.retrieval`). The same for three worse chunkings: the title
  dropped from every chunk, windows of 16 word pieces without the title, and the title alone
  (the body dropped).
- image prompt: the offline prompt (`compose_image_prompt`) against the digest's main story
  (`quality.agreement`, the fixed style sentence ignored), and the previous day's prompt against
  it (a prompt about other news: it scores lower, unless the two days share their main story).
- SMS answers: the extractive answer (`sms.answers.extractive_answer`) to each detail query,
  grounded in the hit it is drawn from (`quality.grounding`, citation required, 320
  characters), and held to another query's best hit instead (it should fail).
- answers: every labelled query asked as `GET /ask` asks it (`sms.answering.Answerer` over the
  day's hits, extractive), kept as the answer log keeps it (`sms.answer_log.answer_record`) and
  scored by `answers_are_grounded`'s own function (`sms.quality.answers_quality_check`):
  grounded share mean / cited share / within-length share.
- stories: the offline stories of the day's sample activities, their most alike pair
  (`quality.variety`).

Also the whole pool at once (72 articles, 144 queries, no day filter): a harder corpus.

    .venv/bin/python benchmarks/quality_week.py [--start 2026-11-01] [--days 7] [--k 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# lance warns on every search that its `_distance` column will stop being projected: noise here.
os.environ.setdefault("LANCEDB_LOG", "error")

from glimpse_assets.news.articles import articles_to_frame
from glimpse_assets.news.digest import build_digest
from glimpse_assets.news.image_prompt import STYLE_SENTENCE, compose_image_prompt
from glimpse_assets.news.sources import SampleNewsSource, sample_pool
from glimpse_assets.providers.minilm import word_piece_tokenizer
from glimpse_assets.providers.minilm_embedder import INDEX_TABLE, MiniLMEmbedder, encode
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.quality.agreement import agreement
from glimpse_assets.quality.grounding import grounding
from glimpse_assets.quality.queries import LabelledQuery, load_queries, queries_for
from glimpse_assets.quality.retrieval import MRR_THRESHOLD, RECALL_THRESHOLD, evaluate_search
from glimpse_assets.quality.similarity import minilm_embed
from glimpse_assets.quality.variety import variety
from glimpse_assets.search.chunking import SearchDocument, chunk_document, chunk_documents
from glimpse_assets.search.documents import news_documents
from glimpse_assets.search.index import upsert_day
from glimpse_assets.search.reader import SearchIndex
from glimpse_assets.search.steps import chunks_frame, embeddings_frame, index_rows
from glimpse_assets.sms.answer_log import answer_record
from glimpse_assets.sms.answering import Answerer
from glimpse_assets.sms.answers import MAX_REPLY_CHARS, article_text, extractive_answer
from glimpse_assets.sms.answers_table import answers_frame
from glimpse_assets.sms.quality import answers_quality_check
from glimpse_assets.stories.activities import activities_frame, sample_activities_for_day
from glimpse_assets.stories.story_text import offline_story

DIMENSION = 384


def shipped(documents: list[SearchDocument]):
    return chunk_documents(documents, word_piece_tokenizer())


def no_title(documents: list[SearchDocument]):
    return chunk_documents([replace(d, title="") for d in documents], word_piece_tokenizer())


def small_windows_no_title(documents: list[SearchDocument]):
    """Windows of 16 word pieces (2 special + 16 = 18), 4 shared, no title."""
    tokenizer = word_piece_tokenizer()
    return [
        chunk
        for document in documents
        for chunk in chunk_document(replace(document, title=""), tokenizer, 18, 4)
    ]


def first_pieces_only(documents: list[SearchDocument]):
    """Each document's first window of 32 word pieces (title included) and nothing after: what
    embedding a document whole does once it is longer than the model reads."""
    tokenizer = word_piece_tokenizer()
    return [chunk_document(document, tokenizer, 34, 0)[0] for document in documents]


def title_only(documents: list[SearchDocument]):
    return chunk_documents([replace(d, text="") for d in documents], word_piece_tokenizer())


CHUNKINGS: dict[str, Callable] = {
    "shipped": shipped,
    "no title": no_title,
    "16-piece windows, no title": small_windows_no_title,
    "first 32 pieces only": first_pieces_only,
    "title only": title_only,
}


def day_news(day: date):
    frame, _ = articles_to_frame(SampleNewsSource().fetch_day(day).articles, "sample", day)
    return frame


def build_index(root: Path, table: str, day: str, documents: list[SearchDocument], chunker):
    chunks = chunks_frame(chunker(documents))
    vectors = encode(chunks["text"].tolist())
    rows = index_rows(day, chunks, embeddings_frame(chunks, vectors), DIMENSION)
    upsert_day(str(root), table, rows, day)
    return SearchIndex(str(root), table)


def run_queries(index: SearchIndex, queries: list[LabelledQuery], k: int, day: date | None):
    embedder = MiniLMEmbedder()
    hits_of: dict[str, list[dict]] = {}

    def search(text: str) -> list[str]:
        hits = index.search(embedder.embed_query(text), k, since=day, until=day) or []
        hits_of[text] = hits
        return [hit["url"] for hit in hits]

    scores = evaluate_search(
        search,
        [q.query for q in queries],
        [q.url for q in queries],
        k,
        labels=[q.id for q in queries],
    )
    return scores, hits_of


def by_kind(queries: list[LabelledQuery], misses: list[str]) -> dict[str, float]:
    """recall@k of each query kind, from the ids of the queries that missed (one expected url
    per query: recall is the share that did not miss)."""
    shares = {}
    for kind in ("title", "detail"):
        ids = {q.id for q in queries if q.kind == kind}
        shares[kind] = 1 - len(ids & set(misses)) / len(ids)
    return shares


def sms_grounding(queries, hits_of) -> tuple[str, str]:
    """The extractive SMS answer to each detail query, grounded in the hit it is drawn from
    (citation required, at most 320 characters), and the same answers held to the next query's
    best hit instead, when that is another article (an answer that does not come from its
    cited source): "passed/answers (mean grounded share)" of each."""
    answered = []
    for query in queries:
        hits = hits_of.get(query.query) or []
        if query.kind == "detail" and hits:
            answered.append((extractive_answer(query.query, hits), hits[0]))

    def score(answer: str, hit: dict):
        source = f"{hit['title']}\n{article_text(hit)}"
        return grounding(
            answer, [source], minilm_embed, require_citation=True, max_chars=MAX_REPLY_CHARS
        )

    def cell(scores) -> str:
        if not scores:
            return "-"
        passed = sum(s.passed for s in scores)
        return f"{passed}/{len(scores)} ({sum(s.value for s in scores) / len(scores):.3f})"

    own = [score(answer, hit) for answer, hit in answered]
    swapped = [
        score(answer, answered[(i + 1) % len(answered)][1])
        for i, (answer, hit) in enumerate(answered)
        if answered[(i + 1) % len(answered)][1]["url"] != hit["url"]
    ]
    return cell(own), cell(swapped)


class DayHits:
    """The hits each query found (`run_queries`), as the service's search would return them."""

    def __init__(self, hits_of: dict[str, list[dict]]):
        self.hits_of = hits_of

    def search(self, query, k, since, until):
        return self.hits_of.get(query, [])[:k]


def answers_check(day: date, queries, hits_of) -> str:
    """answers_are_grounded over the day's answers to every labelled query (see the doc)."""
    answerer = Answerer(DayHits(hits_of), OfflineTextProvider())
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    try:
        answers = [answerer.answer(q.query, time.monotonic() + 60) for q in queries]
    finally:
        answerer.close()
    records = [
        answer_record("ask", answer, at, f"q{n}")
        for n, answer in enumerate(answers)
        if answer.result is not None
    ]
    result = answers_quality_check(str(day), answers_frame(records))
    if not hasattr(result, "metadata"):
        return f"skipped ({result.reason})"
    values = {key: getattr(value, "value", value) for key, value in result.metadata.items()}
    scores = " / ".join(
        fmt(values.get(name))
        for name in ("grounded_share_mean", "cited_share", "within_length_share")
    )
    return f"{scores} ({len(records)}) {values['quality_status']}"


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", default="2026-11-01")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    start, k = date.fromisoformat(args.start), args.k
    days = [start + timedelta(days=n) for n in range(args.days)]
    started = time.perf_counter()
    names = list(CHUNKINGS)
    search_rows, other_rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # The day before the first, for the first day's "other day's prompt".
        before = start - timedelta(days=1)
        previous_prompt = compose_image_prompt(build_digest(day_news(before), before))
        for day in days:
            raw_news = day_news(day)
            documents = news_documents(raw_news)
            queries = queries_for(raw_news["url"].tolist())
            cells = []
            hits_of = {}
            for number, name in enumerate(names):
                index = build_index(
                    root, f"{INDEX_TABLE}_{number}", str(day), documents, CHUNKINGS[name]
                )
                scores, hits = run_queries(index, queries, k, day)
                cells.append(
                    (
                        scores.recall.value,
                        scores.mrr.value,
                        scores.recall.details["missed_queries"],
                    )
                )
                if name == "shipped":
                    hits_of = hits
            search_rows.append((day, len(documents), len(queries), cells))
            digest = build_digest(raw_news, day)
            prompt = compose_image_prompt(digest)
            main_story = f"{digest['main']['title']}. {digest['main']['description']}"
            own = agreement(prompt, main_story, minilm_embed, ignore=[STYLE_SENTENCE])
            other = agreement(previous_prompt, main_story, minilm_embed, ignore=[STYLE_SENTENCE])
            previous_prompt = prompt
            grounded, swapped = sms_grounding(queries, hits_of)
            answered = answers_check(day, queries, hits_of)
            stories = [
                offline_story(row)[1]
                for row in activities_frame(sample_activities_for_day(day)).to_dict("records")
            ]
            story_variety = variety(stories, minilm_embed)
            other_rows.append(
                (day, own, other, grounded, swapped, answered, story_variety, len(stories))
            )

        noon = f"{days[0].isoformat()} 12:00:00 +0000"
        pool = [{**article, "published": noon} for article in sample_pool()]
        pool_frame, _ = articles_to_frame(pool, "sample", days[0])
        pool_documents = news_documents(pool_frame)
        pool_cells, pool_kinds = [], []
        for number, name in enumerate(names):
            index = build_index(root, f"pool_{number}", "pool", pool_documents, CHUNKINGS[name])
            scores, _ = run_queries(index, list(load_queries()), k, None)
            pool_cells.append(
                (scores.recall.value, scores.mrr.value, scores.recall.details["missed_queries"])
            )
            pool_kinds.append(by_kind(list(load_queries()), scores.recall.details["misses"]))

    print(f"## Search: recall@{k} / MRR of the day's labelled queries, per chunking\n")
    header = (
        "| day | articles | queries | "
        + " | ".join(f"{n}: R@{k} / MRR (missed)" for n in names)
        + " |"
    )
    print(header)
    print("|" + "---|" * (3 + len(names)))
    totals = [[0.0, 0.0] for _ in names]
    for day, articles, queries, cells in search_rows:
        row = " | ".join(f"{fmt(r)} / {fmt(m)} ({miss})" for r, m, miss in cells)
        print(f"| {day} | {articles} | {queries} | {row} |")
        for total, (r, m, _) in zip(totals, cells, strict=True):
            total[0] += r / len(search_rows)
            total[1] += m / len(search_rows)
    print("| mean | | | " + " | ".join(f"{fmt(r)} / {fmt(m)}" for r, m in totals) + " |")
    warned = [
        sum(
            r < RECALL_THRESHOLD or m < MRR_THRESHOLD
            for _, _, _, cells in search_rows
            for r, m, _ in [cells[column]]
        )
        for column in range(len(names))
    ]
    print(
        f"| check warns (R@{k} < {RECALL_THRESHOLD} or MRR < {MRR_THRESHOLD}) | | | "
        + " | ".join(f"{n} of {len(search_rows)} days" for n in warned)
        + " |"
    )
    row = " | ".join(f"{fmt(r)} / {fmt(m)} ({miss})" for r, m, miss in pool_cells)
    print(f"| whole pool | {len(pool_documents)} | {len(load_queries())} | {row} |")
    kinds = " | ".join(f"title {fmt(kk['title'])}, detail {fmt(kk['detail'])}" for kk in pool_kinds)
    print(f"| whole pool, R@{k} by query kind | | | {kinds} |")

    print("\n## Image prompt, SMS answers, stories\n")
    print(
        "| day | prompt-main story similarity | other day's prompt | SMS answers grounded: "
        "passed (mean share) | answers held to another hit | answers_are_grounded: grounded / "
        "cited / within length (answers) | stories: max pair similarity (stories) |"
    )
    print("|---|---|---|---|---|---|---|")
    for day, own, other, grounded, swapped, answered, story_variety, stories in other_rows:
        pair = fmt(story_variety.value) if not story_variety.is_skipped else "skipped"
        print(
            f"| {day} | {fmt(own.value)} {own.status} | {fmt(other.value)} {other.status} | "
            f"{grounded} | {swapped} | {answered} | {pair} ({stories}) |"
        )
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
