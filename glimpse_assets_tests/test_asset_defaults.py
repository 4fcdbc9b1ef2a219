"""What every daily asset and check shares (glimpse_assets/asset_defaults.py): the day's
partitions, the one backfill policy, an owner and a domain tag per domain, kinds that name the
stored format, and the llm pool for every step that calls a model."""

import json

import dagster as dg
import pytest

from glimpse_assets import partitions
from glimpse_assets.asset_defaults import DOMAIN_TAG, daily_asset, daily_asset_check
from glimpse_assets.definitions import build_definitions
from glimpse_assets.llm.policy import LLM_POOL
from glimpse_assets.storage.formats import format_for_kinds
from glimpse_assets_tests.support.stores import io_manager_at

DOMAINS = {"news", "publish", "rides", "search", "stories", "sms"}


@pytest.fixture(scope="module")
def graph():
    return build_definitions({"GLIMPSE_SMS": "on"}).resolve_asset_graph()


def defining_domain(node) -> str:
    """The domain folder that defines the asset's function (social_post: publish, shown in the
    news group)."""
    function = node.assets_def.op.compute_fn
    module = getattr(function, "decorated_fn", function).__module__
    return module.split(".")[1]


def materializable(graph):
    return [
        graph.get(key) for key in graph.get_all_asset_keys() if graph.get(key).is_materializable
    ]


def test_every_asset_has_its_domains_owner_tag_and_group(graph):
    nodes = materializable(graph)
    assert len(nodes) == 17
    seen = set()
    for node in nodes:
        domain = defining_domain(node)
        seen.add(domain)
        assert node.owners == [f"team:{domain}"], node.key
        assert node.tags[DOMAIN_TAG] == domain, node.key
        expected_group = "news" if domain == "publish" else domain
        assert node.group_name == expected_group, node.key
    assert seen == DOMAINS


def test_every_asset_shares_the_days_partitions_and_the_backfill_policy(graph):
    for node in materializable(graph):
        assert node.partitions_def == partitions.daily_partitions, node.key
        assert node.backfill_policy == partitions.BACKFILL_POLICY, node.key
    for key in graph.asset_check_keys:
        assert graph.get(key).partitions_def == partitions.daily_partitions, key


def test_kinds_say_python_and_the_one_format_the_asset_is_stored_in(graph):
    stored_as = {
        node.key.to_user_string(): format_for_kinds(node.kinds) for node in materializable(graph)
    }
    assert all(fmt is not None for fmt in stored_as.values()), stored_as
    assert {name: fmt.extension for name, fmt in stored_as.items()} == {
        "raw_news": "parquet",
        "news_digest": "json",
        "image_prompt": "json",
        "news_image": "png",
        "social_post": "json",
        "raw_rides": "parquet",
        "clustered_rides": "parquet",
        "anomaly_summaries": "parquet",
        "rides_report": "parquet",
        "rides_report_page": "html",
        "article_chunks": "parquet",
        "article_embeddings": "parquet",
        "search_index": "json",
        "strava_activities": "parquet",
        "activity_stories": "parquet",
        "sms_digest": "json",
        "answers_given": "parquet",
    }
    for node in materializable(graph):
        assert "python" in node.kinds, node.key


def test_the_steps_that_may_call_a_model_say_so_and_run_in_the_llm_pool(graph):
    # "openai": the step can call an OpenAI-compatible server through the gateway (with the
    # offline default it does not): those steps share the pool's slots and never retry.
    for node in materializable(graph):
        calls_a_model = "openai" in node.kinds
        assert (LLM_POOL in (node.pools or set())) == calls_a_model, node.key
        if calls_a_model and node.key != dg.AssetKey("social_post"):
            assert node.assets_def.op.retry_policy == dg.RetryPolicy(max_retries=0), node.key
    # social_post's step retries are for publishing (Instagram rate limits, SMTP down); its
    # caption call fails the step once, never retried (test_publish.py: "fails the post once").
    post = graph.get(dg.AssetKey("social_post")).assets_def.op.retry_policy
    assert post is not None and post.max_retries == 2
    outside = {"twilio": "sms_digest", "strava": "strava_activities", "lancedb": "search_index"}
    for kind, name in outside.items():
        assert kind in graph.get(dg.AssetKey(name)).kinds


def test_a_new_daily_asset_and_its_check_take_the_defaults(tmp_path):
    @daily_asset(domain="demo", kinds={"json"}, calls_a_model=True, description="A demo day.")
    def demo_day(context: dg.AssetExecutionContext) -> dict:
        return {"day": context.partition_key}

    @daily_asset_check(asset=demo_day)
    def demo_day_is_its_day(demo_day: dict) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=bool(demo_day["day"]))

    spec = demo_day.specs_by_key[demo_day.key]
    assert (spec.owners, spec.group_name, spec.tags[DOMAIN_TAG]) == (["team:demo"], "demo", "demo")
    assert spec.kinds == {"python", "json"}
    assert spec.description == "A demo day."
    assert demo_day.partitions_def == partitions.daily_partitions
    assert demo_day.backfill_policy == partitions.BACKFILL_POLICY
    assert demo_day.op.pool == LLM_POOL

    io_manager = io_manager_at(str(tmp_path))
    result = dg.materialize(
        [demo_day, demo_day_is_its_day],
        partition_key="2026-03-01",
        resources={"io_manager": io_manager},
    )
    assert result.success
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
    stored = (tmp_path / "demo_day" / "2026-03-01.json").read_text()
    assert json.loads(stored) == {"day": "2026-03-01"}
