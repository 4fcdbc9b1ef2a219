"""Quality, measured daily (issue 24): the quality checks wired into the code location, run on a
sample day offline through the domains' own jobs, each recording one result for the day with its
numeric scores in the metadata (so the UI plots them per partition), as a warning; a check with
nothing to look at is skipped (no result: Dagster shows it skipped, the run's log says why); and
the checks fail where they should: a worse chunking of the day's index (titles only), a day of
two identical stories, a caption that is an image prompt, a prompt about another day's news. The
optional judge grades summaries through the local OpenAI double, capped per day, and is skipped
(and says so) offline or when it fails."""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace

import dagster as dg
import pandas as pd
import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.quality.judge import JUDGE_RESPONSE_FORMAT
from glimpse_assets.quality.retrieval import MRR_THRESHOLD, RECALL_THRESHOLD
from glimpse_assets.skipped_checks import NothingToCheck, skips_in_run
from glimpse_assets_tests.support.fake_openai import CHAT, answer

pytestmark = pytest.mark.slow

DAY = "2026-11-04"  # 11 sample articles (22 labelled queries), 3 activities, anomalous rides
JOBS = ("news_job", "search_job", "rides_job", "stories_job")
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

# check -> (asset, the scores it plots: each in [0, 1])
QUALITY_CHECKS = {
    "search_index_quality": ("search_index", ["recall_at_5", "mrr"]),
    "image_prompt_agrees_with_digest": ("image_prompt", ["prompt_digest_similarity"]),
    "social_post_caption_is_readable": ("social_post", ["caption_digest_similarity"]),
    "anomaly_summaries_are_grounded": ("anomaly_summaries", ["grounded_share_mean"]),
    "activity_stories_vary": ("activity_stories", ["max_pairwise_similarity"]),
}


def values(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {key: getattr(v, "value", v) for key, v in evaluation.metadata.items()}


def run_job(sample, name: str, tags: dict | None = None) -> dg.ExecuteInProcessResult:
    job = sample["definitions"].resolve_job_def(name)
    return job.execute_in_process(
        instance=sample["instance"],
        tags=tags or {"dagster/partition": DAY},
        raise_on_error=False,
        run_config=QUIET,
    )


def evaluation_of(result: dg.ExecuteInProcessResult, check: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    return evaluation


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample day materialised offline by the domains' jobs, into a temp storage root."""
    os.environ.setdefault("LANCEDB_LOG", "error")
    root = tmp_path_factory.mktemp("quality") / "storage"
    sample = {
        "root": root,
        "definitions": build_definitions({"GLIMPSE_STORAGE_URI": str(root)}),
        "instance": dg.DagsterInstance.ephemeral(),
        "evaluations": {},
    }
    for name in JOBS:
        result = run_job(sample, name)
        assert result.success, name
        for evaluation in result.get_asset_check_evaluations():
            sample["evaluations"][evaluation.check_name] = evaluation
    return sample


def stored_frame(sample, key: str) -> pd.DataFrame:
    return pd.read_parquet(sample["root"] / key)


def stored_json(sample, key: str) -> dict:
    return json.loads((sample["root"] / key).read_text("utf-8"))


# -- the sample day: one result a day, scores in the metadata, a warning -----------------------


@pytest.mark.parametrize("check", sorted(QUALITY_CHECKS))
def test_each_quality_check_records_its_scores_for_the_day(sample, check):
    asset, scores = QUALITY_CHECKS[check]
    evaluation = sample["evaluations"][check]
    metadata = values(evaluation)

    assert evaluation.asset_key == dg.AssetKey(asset)
    assert evaluation.partition == DAY  # one result per day: plotted per partition
    assert evaluation.passed, evaluation.description
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert metadata["quality_status"] == "passed"
    for score in scores:
        assert isinstance(metadata[score], float) and 0.0 <= metadata[score] <= 1.0
        assert metadata[f"{score}_status"] == "passed"
        assert 0.0 <= metadata[f"{score}_threshold"] <= 1.0
        assert score in evaluation.description  # it says what it measured, and how it went


def test_the_scores_say_what_they_measured(sample):
    evaluations = sample["evaluations"]
    search = values(evaluations["search_index_quality"])
    assert search["recall_at_5_queries"] == 22 and search["recall_at_5_k"] == 5
    assert (search["recall_at_5_threshold"], search["mrr_threshold"]) == (
        RECALL_THRESHOLD,
        MRR_THRESHOLD,
    )
    assert "recall_at_5_misses" in search and "mrr_misses" in search
    assert "22 labelled queries" in evaluations["search_index_quality"].description

    prompt = values(evaluations["image_prompt_agrees_with_digest"])
    assert 20 <= prompt["prompt_digest_similarity_words"] <= 80
    assert prompt["prompt_digest_similarity_rules_broken"] == 0

    caption = values(evaluations["social_post_caption_is_readable"])
    assert caption["caption_digest_similarity_forbidden_found"] == ""

    summaries = values(evaluations["anomaly_summaries_are_grounded"])
    anomalies = stored_frame(sample, f"anomaly_summaries/{DAY}.parquet")
    assert summaries["grounded_share_mean_outputs"] == anomalies["summary"].nunique() > 1
    assert summaries["grounded_share_mean_failed_count"] == 0
    # Offline there is no judge: the score is skipped, and the metadata says why.
    assert summaries["judge_grade_mean_status"] == "skipped"
    assert "offline" in summaries["judge_grade_mean_reason"]
    assert "judge_grade_mean" not in summaries

    stories = values(evaluations["activity_stories_vary"])
    assert stories["max_pairwise_similarity_texts"] == 3


def test_the_quality_checks_are_in_the_code_location_and_do_not_block(sample):
    graph = sample["definitions"].resolve_asset_graph()
    checks = {key.name: key for key in graph.asset_check_keys}
    for name, (asset, _) in QUALITY_CHECKS.items():
        assert checks[name].asset_key == dg.AssetKey(asset)
        assert not graph.get(checks[name]).blocking
    # The domain's checks job re-runs it alone on what is stored.
    again = evaluation_of(run_job(sample, "stories_checks_job"), "activity_stories_vary")
    assert again.passed and values(again)["max_pairwise_similarity"] == pytest.approx(
        values(sample["evaluations"]["activity_stories_vary"])["max_pairwise_similarity"]
    )


# -- and where they fail -------------------------------------------------------------------------


def test_a_worse_chunking_is_caught_by_search_index_quality(sample):
    """The day's chunks replaced by the articles' titles alone (their bodies dropped): the main
    story is still found by its title, but the queries about what an article says are not."""
    from glimpse_assets.providers.minilm import word_piece_tokenizer
    from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder, encode
    from glimpse_assets.search.chunking import chunk_documents
    from glimpse_assets.search.documents import news_documents
    from glimpse_assets.search.index import upsert_day
    from glimpse_assets.search.steps import chunks_frame, embeddings_frame, index_rows

    raw_news = stored_frame(sample, f"raw_news/{DAY}.parquet")
    titles_only = [replace(document, text="") for document in news_documents(raw_news)]
    chunks = chunks_frame(chunk_documents(titles_only, word_piece_tokenizer()))
    rows = index_rows(DAY, chunks, embeddings_frame(chunks, encode(chunks["text"].tolist())), 384)
    upsert_day(str(sample["root"]), MiniLMEmbedder().index_table, rows, DAY)
    try:
        result = run_job(sample, "search_checks_job")
    finally:  # the other tests read the shipped index
        assert run_job(sample, "search_job").success

    quality = evaluation_of(result, "search_index_quality")
    metadata = values(quality)
    assert not quality.passed and quality.severity == dg.AssetCheckSeverity.WARN
    assert metadata["quality_status"] == "failed"
    assert metadata["mrr"] < MRR_THRESHOLD and metadata["mrr_status"] == "failed"
    assert "detail" in metadata["mrr_misses"]  # the queries about what the bodies say
    assert evaluation_of(result, "search_index_finds_the_main_story").passed


def test_two_identical_stories_fail_activity_stories_vary(sample):
    key = f"activity_stories/{DAY}.parquet"
    path = sample["root"] / key
    original = path.read_bytes()
    stories = pd.read_parquet(io.BytesIO(original))
    stories.loc[1, "story"] = stories.loc[0, "story"]
    buffer = io.BytesIO()
    stories.to_parquet(buffer)
    path.write_bytes(buffer.getvalue())
    try:
        result = run_job(sample, "stories_checks_job")
    finally:
        path.write_bytes(original)

    variety = evaluation_of(result, "activity_stories_vary")
    metadata = values(variety)
    assert not variety.passed and variety.severity == dg.AssetCheckSeverity.WARN
    assert metadata["max_pairwise_similarity"] >= 0.99
    assert metadata["max_pairwise_similarity_pair"] == "0, 1"
    assert "max_pairwise_similarity 1.000 (wanted <= 0.950)" in variety.description


def test_a_caption_that_is_an_image_prompt_fails(sample):
    from glimpse_assets.publish.quality import caption_check

    digest = stored_json(sample, f"news_digest/{DAY}.json")
    prompt = stored_json(sample, f"image_prompt/{DAY}.json")["text"]
    result = caption_check(DAY, {"caption_text": prompt}, digest)
    metadata = values(result)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert metadata["caption_digest_similarity_forbidden_found"] == "Visual motifs, Style:"


def test_a_prompt_about_other_news_fails(sample):
    from glimpse_assets.news.quality import prompt_agreement_check

    digest = stored_json(sample, f"news_digest/{DAY}.json")
    other = {
        "text": "A quiet mountain lake at dawn, pine trees reflected in still water, mist rising "
        "slowly over the shore, soft pastel light, watercolour style, no people and no text."
    }
    result = prompt_agreement_check(DAY, other, digest)
    assert not result.passed and values(result)["prompt_digest_similarity"] < 0.35


# -- nothing to look at: skipped, never a plain pass -----------------------------------------


def test_a_check_with_nothing_to_look_at_is_nothing_to_check(sample):
    from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder
    from glimpse_assets.publish.quality import caption_check
    from glimpse_assets.rides.quality import summaries_quality_check
    from glimpse_assets.search.quality import retrieval_check
    from glimpse_assets.search.reader import SearchIndex
    from glimpse_assets.search.steps import main_story_check
    from glimpse_assets.storage.object_store import open_object_store
    from glimpse_assets.stories.quality import variety_check

    store = open_object_store(str(sample["root"]))
    embedder = MiniLMEmbedder()
    index = SearchIndex(str(sample["root"]), embedder.index_table)
    other_day = "2026-11-05"
    other_news = stored_frame(sample, f"raw_news/{DAY}.parquet").assign(
        url=lambda frame: [f"https://other.example/{n}" for n in range(len(frame))]
    )
    buffer = io.BytesIO()
    other_news.to_parquet(buffer)
    store.put(f"raw_news/{other_day}.parquet", buffer.getvalue())
    clustered = stored_frame(sample, f"clustered_rides/{DAY}.parquet")
    one_story = stored_frame(sample, f"activity_stories/{DAY}.parquet").head(1)
    digest_key = f"news_digest/{DAY}.json"

    results = {
        "no raw_news": retrieval_check("2026-11-06", store, embedder, index),
        "other news": retrieval_check(other_day, store, embedder, index),
        "no anomalies": summaries_quality_check(
            None, DAY, stored_frame(sample, f"anomaly_summaries/{DAY}.parquet").head(0), clustered
        ),
        "one story": variety_check(DAY, one_story),
        "no caption": caption_check(DAY, {"caption_text": ""}, stored_json(sample, digest_key)),
        "no news": main_story_check("2026-11-06", store, embedder, index),
    }
    for why, result in results.items():
        # No result, so no "passed" and no made-up value (a gap in the plots): a reason.
        assert isinstance(result, NothingToCheck), why
    assert "is in the labelled query set" in results["other news"].reason
    assert "no anomalous ride" in results["no anomalies"].reason
    assert "no main story to look for" in results["no news"].reason
    assert "caption_text" in results["no caption"].reason


def test_a_day_with_nothing_to_look_at_is_skipped_in_dagster_and_says_why(sample):
    """One activity and its story stored for the day: activity_stories_vary records no result,
    so the day's check stays planned in a run that succeeded (the UI's "skipped"), and the run's
    log says why."""
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus,
    )

    keys = ("activity_stories", "strava_activities")
    paths = [sample["root"] / f"{key}/{DAY}.parquet" for key in keys]
    originals = [path.read_bytes() for path in paths]
    for path, original in zip(paths, originals, strict=True):
        buffer = io.BytesIO()
        pd.read_parquet(io.BytesIO(original)).head(1).to_parquet(buffer)
        path.write_bytes(buffer.getvalue())
    try:
        result = run_job(sample, "stories_checks_job")
    finally:
        for path, original in zip(paths, originals, strict=True):
            path.write_bytes(original)

    assert result.success
    evaluated = {evaluation.check_name for evaluation in result.get_asset_check_evaluations()}
    assert "activity_stories_vary" not in evaluated
    assert evaluation_of(result, "activity_stories_use_real_numbers").passed
    instance = sample["instance"]
    key = dg.AssetCheckKey(dg.AssetKey("activity_stories"), "activity_stories_vary")
    (record,) = [
        record
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
        if record.run_id == result.run_id
    ]
    assert (record.partition, record.status) == (DAY, AssetCheckExecutionRecordStatus.PLANNED)
    (skip,) = skips_in_run(instance, result.run_id)
    assert skip[:2] == ("activity_stories_vary", DAY)
    why = "no pair to compare"
    assert skip[2] == f"the 1 stories of {DAY}, pair by pair: {why}"


# -- the optional judge, through the local OpenAI double -----------------------------------------


def judged_run(sample, fake, tmp_path) -> dg.ExecuteInProcessResult:
    """anomaly_summaries' quality check alone, on the stored sample day, with the openai text
    provider pointed at the double (its response cache in a storage of its own)."""
    from glimpse_assets.domains import upstream_specs
    from glimpse_assets.llm.gateway import LLMCalls
    from glimpse_assets.providers.openai_client import OpenAIClient
    from glimpse_assets.providers.openai_provider import OpenAITextProvider
    from glimpse_assets.rides.assets import rides_assets
    from glimpse_assets.rides.checks import anomaly_summaries_are_grounded
    from glimpse_assets.storage.resource import ObjectStoreResource
    from glimpse_assets_tests.support.stores import io_manager_at

    io_manager = io_manager_at(str(sample["root"]))
    calls = LLMCalls(object_store=ObjectStoreResource(storage_uri=str(tmp_path / "llm")))
    provider = OpenAITextProvider(
        openai=OpenAIClient(api_key="sk-test-judge", base_url=fake.base_url),
        calls=calls,
        model="test-judge-model",
    )
    resources = sample["definitions"].resources
    return dg.materialize(
        [
            *rides_assets,
            *upstream_specs(dg.Definitions(assets=rides_assets)),
            anomaly_summaries_are_grounded,
        ],
        tags={"dagster/partition": DAY},
        selection=dg.AssetSelection.checks(anomaly_summaries_are_grounded),
        resources={
            **{name: resources[name] for name in ("rides_source",)},
            "io_manager": io_manager,
            "object_store": io_manager.object_store,
            "llm": calls,
            "text_provider": provider,
        },
        raise_on_error=False,
    )


def test_the_judge_grades_a_few_summaries_a_day_through_the_openai_provider(sample, fake, tmp_path):
    from glimpse_assets.rides.quality import JUDGE_OUTPUTS

    fake.script(
        CHAT,
        answer('{"grade": 5, "reason": "Every sentence is in the sources."}'),
        answer('{"grade": 4, "reason": "Supported."}'),
        answer('{"grade": 3, "reason": "Mostly supported."}'),
    )
    result = judged_run(sample, fake, tmp_path)

    evaluation = evaluation_of(result, "anomaly_summaries_are_grounded")
    metadata = values(evaluation)
    assert evaluation.passed, evaluation.description
    assert fake.count(CHAT) == JUDGE_OUTPUTS  # capped: not one call per summary
    assert metadata["judge_grade_mean"] == 4.0 and metadata["judge_grade_mean_status"] == "passed"
    assert metadata["judge_grade_mean_min"] == 3.0 and metadata["judge_grade_mean_outputs"] == 3
    assert metadata["judge_grade_mean_judged_of"] == metadata["grounded_share_mean_outputs"]
    assert "judge_grade_mean 4.000 (wanted >= 3.000)" in evaluation.description
    assert all(
        sent.body["response_format"] == JUDGE_RESPONSE_FORMAT for sent in fake.answered(CHAT)
    )


def test_a_judge_that_fails_is_skipped_and_the_check_stands(sample, fake, tmp_path):
    # The double answers a JSON schema request with a story, not a grade.
    result = judged_run(sample, fake, tmp_path)

    evaluation = evaluation_of(result, "anomaly_summaries_are_grounded")
    metadata = values(evaluation)
    assert evaluation.passed and metadata["grounded_share_mean_status"] == "passed"
    assert metadata["judge_grade_mean_status"] == "skipped"
    assert metadata["judge_grade_mean_reason"].startswith("the judge failed")
