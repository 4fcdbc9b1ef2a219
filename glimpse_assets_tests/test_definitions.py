"""The code location: which implementations the settings select, what each domain's Definitions
hold alone and merged, and that Dagster's own tools (the CLI and the webserver) load it.

The `test_code_location_*` tests start real Dagster processes and are the slow ones.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import requests

from glimpse_assets import partitions
from glimpse_assets.definitions import DOMAINS, build_definitions
from glimpse_assets.domains import build_domain
from glimpse_assets.llm.budget import llm_asset_keys
from glimpse_assets.news import definitions as news_definitions
from glimpse_assets.news.sources import CurrentsNewsSource, RssNewsSource, SampleNewsSource
from glimpse_assets.providers.offline_image import OfflineImageProvider
from glimpse_assets.providers.offline_text import OfflineTextProvider
from glimpse_assets.providers.openai_provider import OpenAIImageProvider, OpenAITextProvider
from glimpse_assets.publish import definitions as publish_definitions
from glimpse_assets.rides import definitions as rides_definitions
from glimpse_assets.rides.sources import SimulatedRidesSource, TlcRidesSource
from glimpse_assets.settings import ConfigurationError, PartitionSettings
from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets_tests.support.net import free_port, http_ok, wait_until

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
NEWS_ASSETS = {"raw_news", "news_digest", "image_prompt", "news_image"}
RIDES_ASSETS = {
    "raw_rides",
    "clustered_rides",
    "anomaly_summaries",
    "rides_report",
    "rides_report_page",
}
SEARCH_ASSETS = {"article_chunks", "article_embeddings", "search_index"}
STORIES_ASSETS = {"strava_activities", "activity_stories"}
GROUPS = (
    dict.fromkeys(NEWS_ASSETS | {"social_post"}, "news")
    | dict.fromkeys(RIDES_ASSETS, "rides")
    | dict.fromkeys(SEARCH_ASSETS, "search")
    | dict.fromkeys(STORIES_ASSETS, "stories")
    | {"sms_digest": "sms", "answers_given": "sms"}
)


def resources_from_env(env: dict[str, str]) -> dict:
    return dict(build_definitions(env).resources)


# -- resources chosen from the environment -------------------------------------------------


def test_default_environment_is_fully_offline():
    resources = resources_from_env({})

    assert isinstance(resources["news_source"], SampleNewsSource)
    assert isinstance(resources["text_provider"], OfflineTextProvider)
    assert isinstance(resources["image_provider"], OfflineImageProvider)
    assert isinstance(resources["io_manager"], GlimpseIOManager)
    assert resources["io_manager"].object_store is resources["object_store"]
    assert resources["object_store"].storage_uri == ".glimpse/storage"


def test_auto_with_an_api_key_selects_openai_with_models_and_base_url():
    env = {
        "GLIMPSE_PROVIDER": "auto",
        "OPENAI_API_KEY": "sk-test-secret",
        "GLIMPSE_TEXT_MODEL": "llama3.2",
        "GLIMPSE_IMAGE_MODEL": "dall-e-3",
        "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
    }
    resources = resources_from_env(env)

    text, image = resources["text_provider"], resources["image_provider"]
    assert isinstance(text, OpenAITextProvider)
    assert isinstance(image, OpenAIImageProvider)
    assert text.model == "llama3.2"
    assert image.model == "dall-e-3"
    assert text.openai.base_url == image.openai.base_url == "http://127.0.0.1:11434/v1"
    # The key is read from the environment when a run starts, never copied into the definitions.
    assert text.openai.api_key == dg.EnvVar("OPENAI_API_KEY")
    assert "sk-test-secret" not in repr(resources)
    # One gateway, over the one object store, under both providers.
    assert text.calls is image.calls is resources["llm"]
    assert resources["llm"].object_store is resources["object_store"]


def test_an_api_key_alone_selects_openai_with_default_models():
    resources = resources_from_env({"OPENAI_API_KEY": "sk-test-secret"})

    assert resources["text_provider"].model == "gpt-4o-mini"
    assert resources["image_provider"].model == "gpt-image-1"
    assert resources["text_provider"].openai.base_url is None


def test_offline_provider_wins_over_an_api_key():
    resources = resources_from_env({"GLIMPSE_PROVIDER": "offline", "OPENAI_API_KEY": "sk-x"})

    assert isinstance(resources["text_provider"], OfflineTextProvider)
    assert isinstance(resources["image_provider"], OfflineImageProvider)


def test_choices_ignore_case_and_surrounding_spaces():
    resources = resources_from_env({"GLIMPSE_PROVIDER": " OpenAI ", "OPENAI_API_KEY": "sk-x"})

    assert isinstance(resources["text_provider"], OpenAITextProvider)


def test_openai_provider_without_a_key_names_the_missing_variable():
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resources_from_env({"GLIMPSE_PROVIDER": "openai"})


@pytest.mark.parametrize(
    ("variable", "allowed"),
    [
        ("GLIMPSE_PROVIDER", ["auto", "offline", "openai"]),
        ("GLIMPSE_NEWS_SOURCE", ["sample", "currents", "rss"]),
    ],
)
def test_an_unknown_choice_names_the_variable_and_the_allowed_values(variable, allowed):
    with pytest.raises(ConfigurationError) as raised:
        resources_from_env({variable: "carrier-pigeon"})

    message = str(raised.value)
    assert variable in message
    assert "carrier-pigeon" in message
    for value in allowed:
        assert value in message


def test_configuration_errors_are_value_errors():
    assert issubclass(ConfigurationError, ValueError)


def test_currents_with_a_key_reads_its_settings():
    env = {
        "GLIMPSE_NEWS_SOURCE": "currents",
        "CURRENTS_API_KEY": "currents-secret",
        "CURRENTS_API_URL": "http://127.0.0.1:9/currents",
        "GLIMPSE_NEWS_LANGUAGE": "de",
        "GLIMPSE_NEWS_CATEGORY": "science",
    }
    source = resources_from_env(env)["news_source"]

    assert isinstance(source, CurrentsNewsSource)
    assert source.api_key == dg.EnvVar("CURRENTS_API_KEY")
    assert (source.base_url, source.language, source.category) == (
        "http://127.0.0.1:9/currents",
        "de",
        "science",
    )


def test_rss_feeds_are_split_on_commas_and_trimmed():
    env = {"GLIMPSE_NEWS_SOURCE": "rss", "GLIMPSE_RSS_FEEDS": "u1, u2"}
    source = resources_from_env(env)["news_source"]

    assert isinstance(source, RssNewsSource)
    assert source.feed_urls == ["u1", "u2"]


@pytest.mark.parametrize("uri", ["s3://glimpse-bucket/daily", "/srv/glimpse/storage"])
def test_storage_uri_passes_through(uri):
    resources = resources_from_env({"GLIMPSE_STORAGE_URI": uri})

    assert resources["object_store"].storage_uri == uri
    assert resources["io_manager"].object_store is resources["object_store"]
    assert resources["news_publisher"].object_store is resources["object_store"]


def test_rides_default_to_ten_thousand_simulated_rides_a_day():
    source = resources_from_env({})["rides_source"]

    assert isinstance(source, SimulatedRidesSource)
    assert (source.rides_per_day, source.city) == (10_000, "Port Aldermere")


def test_rides_per_day_and_city_come_from_the_environment():
    env = {"GLIMPSE_RIDES_PER_DAY": "250_000", "GLIMPSE_RIDES_CITY": "Tellmouth"}
    source = resources_from_env(env)["rides_source"]

    assert (source.rides_per_day, source.city) == (250_000, "Tellmouth")


def test_a_tlc_template_selects_the_tlc_source():
    env = {"GLIMPSE_RIDES_SOURCE": "s3://tlc/yellow_tripdata_{month}.parquet"}
    source = resources_from_env(env)["rides_source"]

    assert isinstance(source, TlcRidesSource)
    assert (source.template, source.city) == (env["GLIMPSE_RIDES_SOURCE"], "New York City")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GLIMPSE_RIDES_SOURCE": "taxis"}, "GLIMPSE_RIDES_SOURCE"),
        ({"GLIMPSE_RIDES_SOURCE": "/data/rides_{date}.json"}, "GLIMPSE_RIDES_SOURCE"),
        ({"GLIMPSE_RIDES_PER_DAY": "lots"}, "GLIMPSE_RIDES_PER_DAY"),
        ({"GLIMPSE_RIDES_PER_DAY": "-5"}, "GLIMPSE_RIDES_PER_DAY"),
    ],
)
def test_bad_rides_settings_name_the_variable(env, named):
    with pytest.raises(ConfigurationError, match=named):
        resources_from_env(env)


def test_build_definitions_uses_the_given_environment():
    defs = build_definitions({"GLIMPSE_PROVIDER": "openai", "OPENAI_API_KEY": "sk-x"})

    assert isinstance(defs.resources["text_provider"], OpenAITextProvider)
    with pytest.raises(ConfigurationError, match="GLIMPSE_NEWS_SOURCE"):
        build_definitions({"GLIMPSE_NEWS_SOURCE": "fax"})


# -- what the definitions hold -------------------------------------------------------------


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions({})


def test_assets_are_in_their_domain_groups(defs):
    graph = defs.resolve_asset_graph()

    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == GROUPS


def test_raw_rides_reads_the_days_raw_news(defs):
    graph = defs.resolve_asset_graph()

    parents = graph.get(dg.AssetKey("raw_rides")).parent_keys
    assert parents == {dg.AssetKey("raw_news")}


def test_the_checks_and_which_ones_block(defs):
    graph = defs.resolve_asset_graph()

    blocking = {
        (key.asset_key.to_user_string(), key.name): graph.get(key).blocking
        for key in graph.asset_check_keys
    }
    assert blocking == {
        ("raw_news", "raw_news_has_articles"): True,
        ("image_prompt", "image_prompt_is_one_paragraph"): False,
        ("news_image", "news_image_is_valid_png"): False,
        ("clustered_rides", "clustered_rides_are_all_labelled"): True,
        ("clustered_rides", "anomaly_rate_is_within_band"): False,
        ("search_index", "search_index_finds_the_main_story"): False,
        ("activity_stories", "activity_stories_use_real_numbers"): True,
        ("sms_digest", "sms_digest_delivered"): False,
        # Quality, measured daily (glimpse_assets/quality): warnings, never blocking.
        ("search_index", "search_index_quality"): False,
        ("image_prompt", "image_prompt_agrees_with_digest"): False,
        ("social_post", "social_post_caption_is_readable"): False,
        ("anomaly_summaries", "anomaly_summaries_are_grounded"): False,
        ("activity_stories", "activity_stories_vary"): False,
        ("answers_given", "answers_are_grounded"): False,
    }


def test_news_job_covers_the_news_assets_by_day(defs):
    job = defs.resolve_job_def("news_job")

    assert job.partitions_def == partitions.daily_partitions
    assert {
        key.to_user_string() for key in job.asset_layer.executable_asset_keys
    } == NEWS_ASSETS | {"social_post"}


def test_daily_schedule_runs_at_eight_utc_for_the_previous_day(defs):
    schedule = defs.resolve_schedule_def("news_daily_schedule")

    assert schedule.cron_schedule == "0 8 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "news_job"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    tick = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    result = schedule.evaluate_tick(context)

    (run_request,) = result.run_requests
    assert run_request.partition_key == "2026-03-04"


def test_rides_job_leaves_raw_news_to_the_news_job(defs):
    job = defs.resolve_job_def("rides_job")

    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == RIDES_ASSETS
    check_names = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert "raw_news_has_articles" not in check_names
    assert "clustered_rides_are_all_labelled" in check_names


# -- the partitions' start date ------------------------------------------------------------


def test_start_date_defaults_and_accepts_an_iso_date():
    assert PartitionSettings.from_env({}).start_date == date(2026, 1, 1)
    assert PartitionSettings.from_env({"GLIMPSE_START_DATE": " 2025-06-01 "}).start_date == date(
        2025, 6, 1
    )
    assert partitions.daily_partitions.start.date() == partitions.START_DATE


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "01/03/2026"])
def test_invalid_start_date_is_a_clear_error_naming_the_variable(value):
    with pytest.raises(ConfigurationError, match="GLIMPSE_START_DATE") as raised:
        PartitionSettings.from_env({"GLIMPSE_START_DATE": value})
    assert repr(value) in str(raised.value)


def test_start_date_is_read_in_one_place():
    readers = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "glimpse_assets").rglob("*.py")
        if re.search(r"(alias=|environ\S*\(?\[?)\s*\"GLIMPSE_START_DATE\"", path.read_text())
    ]
    assert readers == ["glimpse_assets/settings.py"]
    uses = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "glimpse_assets").rglob("*.py")
        if "PartitionSettings.from_env(" in path.read_text()
    ]
    assert uses == ["glimpse_assets/partitions.py"]


@pytest.mark.process
def test_the_start_date_is_read_when_the_assets_are_defined_not_at_import():
    # A bad start date does not break importing the partitions module (or anything importing
    # it, like `glimpse serve`); it fails the code location's load, naming the variable.
    code = (
        "import glimpse_assets.partitions as p\n"
        "try:\n    p.daily_partitions\nexcept Exception as e:\n    print(type(e).__name__, e)"
    )
    env = {**os.environ, "GLIMPSE_START_DATE": "yesterday"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("ConfigurationError GLIMPSE_START_DATE='yesterday'")


def test_a_start_date_other_than_the_assets_is_refused_in_one_line():
    other = (partitions.START_DATE - timedelta(days=30)).isoformat()
    with pytest.raises(ConfigurationError, match=f"^GLIMPSE_START_DATE='{other}' differs"):
        build_definitions({"GLIMPSE_START_DATE": other})
    # The same start date, said explicitly, is fine.
    build_definitions({"GLIMPSE_START_DATE": partitions.START_DATE.isoformat()})


# -- domains: each loads alone, all merge into one ------------------------------------------


@pytest.mark.parametrize(
    ("domain", "assets"),
    [
        (news_definitions, NEWS_ASSETS),
        (publish_definitions, {"social_post"}),
        (rides_definitions, RIDES_ASSETS),
    ],
)
def test_each_domain_loads_alone_with_what_it_needs(domain, assets):
    alone = build_domain(domain.build_defs, {})

    repository = alone.get_repository_def()  # resolves every resource and job: fails if unbound
    executable = {
        key.to_user_string()
        for key, assets_def in repository.assets_defs_by_key.items()
        if assets_def.is_executable
    }
    assert executable == assets
    assert {"io_manager", "object_store", "text_provider", "image_provider"} <= set(alone.resources)


def test_a_domains_module_exposes_its_defs():
    # Dagster's lazy loader: the domain alone, built on the first call, the same object after.
    assert isinstance(news_definitions.defs(), dg.Definitions)
    assert news_definitions.defs() is news_definitions.defs()


def test_the_code_location_is_every_domain_merged():
    merged = build_definitions({})

    keys = {key.to_user_string() for key in merged.resolve_asset_graph().get_all_asset_keys()}
    assert keys == (
        NEWS_ASSETS
        | RIDES_ASSETS
        | SEARCH_ASSETS
        | STORIES_ASSETS
        | {"social_post", "sms_digest", "answers_given"}
    )
    assert len(DOMAINS) == 6
    # Domain resources say whose they are; shared ones are defined once.
    assert set(merged.resources) == {
        "io_manager",
        "object_store",
        "text_provider",
        "image_provider",
        "news_source",
        "news_publisher",
        "publish_notifier",
        "rides_source",
        "embedder",
        "vector_index",
        "strava_source",
        "sms_sender",
    }


def test_merging_rejects_two_resources_under_one_key():
    news = build_domain(news_definitions.build_defs, {})
    rides = build_domain(rides_definitions.build_defs, {})  # its own shared resources

    with pytest.raises(
        dg.DagsterInvariantViolationError, match="different resources with same key"
    ):
        dg.Definitions.merge(news, rides)


def test_a_missing_domain_credential_loads_and_fails_only_that_domains_step(tmp_path):
    env = {"GLIMPSE_PUBLISHER": "instagram", "GLIMPSE_STORAGE_URI": str(tmp_path)}
    defs = build_definitions(env)  # no INSTAGRAM_ACCESS_TOKEN, no INSTAGRAM_USER_ID: still loads

    result = defs.resolve_job_def("news_job").execute_in_process(
        partition_key="2026-03-01", raise_on_error=False
    )

    statuses = {
        event.step_key: event.event_type_value
        for event in result.all_events
        if event.is_step_success or event.is_step_failure
    }
    assert statuses == {
        "raw_news": "STEP_SUCCESS",
        "news_digest": "STEP_SUCCESS",
        "image_prompt": "STEP_SUCCESS",
        "news_image": "STEP_SUCCESS",
        "raw_news_raw_news_has_articles": "STEP_SUCCESS",
        "image_prompt_image_prompt_is_one_paragraph": "STEP_SUCCESS",
        "news_image_news_image_is_valid_png": "STEP_SUCCESS",
        "image_prompt_image_prompt_agrees_with_digest": "STEP_SUCCESS",
        "social_post": "STEP_FAILURE",
    }
    failure = next(event for event in result.all_events if event.is_step_failure)
    assert "INSTAGRAM_ACCESS_TOKEN" in str(failure.step_failure_data.error)
    assert (tmp_path / "news_image" / "2026-03-01.png").is_file()


# Every documented setting, with a value that cannot work: the load fails with one line naming it.
BAD_SETTINGS = [
    ("GLIMPSE_STORAGE_URI", "gs://bucket/glimpse", "s3://bucket/prefix"),
    ("GLIMPSE_STORAGE_URI", "s3://", "bucket"),
    ("AWS_ENDPOINT_URL", "127.0.0.1:9000", "http"),
    ("GLIMPSE_START_DATE", "yesterday", "date"),
    ("GLIMPSE_PROVIDER", "carrier-pigeon", "'auto', 'offline' or 'openai'"),
    ("OPENAI_BASE_URL", "localhost:11434/v1", "http"),
    ("GLIMPSE_MODERATION", "maybe", "'on' or 'off'"),
    ("GLIMPSE_DAILY_BUDGET_USD", "cheap", "number"),
    ("GLIMPSE_DAILY_BUDGET_USD", "nan", "finite"),
    ("GLIMPSE_DAILY_BUDGET_USD", "inf", "finite"),
    ("GLIMPSE_DAILY_BUDGET_USD", "-1", "greater than or equal to 0"),
    ("GLIMPSE_LLM_MAX_CONCURRENCY", "0", "greater than or equal to 1"),
    ("GLIMPSE_LLM_MAX_CONCURRENCY", "many", "integer"),
    ("GLIMPSE_LLM_MAX_RETRIES", "-1", "greater than or equal to 0"),
    ("GLIMPSE_LLM_TIMEOUT_SECONDS", "0", "greater than 0"),
    ("GLIMPSE_LLM_TIMEOUT_SECONDS", "nan", "finite"),
    ("GLIMPSE_NEWS_SOURCE", "fax", "'sample', 'currents' or 'rss'"),
    ("CURRENTS_API_URL", "api.currentsapi.services", "http"),
    ("GLIMPSE_RIDES_SOURCE", "taxis", "'simulated' or a TLC file"),
    ("GLIMPSE_RIDES_SOURCE", "/data/rides_{date}.json", ".parquet or .csv"),
    ("GLIMPSE_RIDES_PER_DAY", "lots", "integer"),
    ("GLIMPSE_RIDES_PER_DAY", "-5", "greater than or equal to 0"),
    ("GLIMPSE_RIDES_CONDITIONS", "weather.json", "'invented', 'none' or a conditions file"),
    ("GLIMPSE_PUBLISHER", "carrier-pigeon", "'outbox', 'instagram' or 'email'"),
    ("INSTAGRAM_GRAPH_API_URL", "graph.facebook.com", "http"),
    ("GLIMPSE_PUBLIC_BASE_URL", "cdn.example", "http"),
    ("GLIMPSE_SMTP_PORT", "smtp", "integer"),
    ("GLIMPSE_SMTP_PORT", "70000", "less than or equal to 65535"),
    ("GLIMPSE_SMTP_STARTTLS", "sometimes", "'true' or 'false'"),
    ("GLIMPSE_NOTIFIER", "pager", "'log', 'sns' or 'slack'"),
    ("GLIMPSE_UI_URL", "localhost:3000", "http"),
    ("SLACK_API_URL", "slack.com/api", "http"),
]


@pytest.mark.parametrize(("variable", "value", "allowed"), BAD_SETTINGS)
def test_every_setting_with_a_bad_value_fails_the_load_naming_it(variable, value, allowed):
    with pytest.raises(ConfigurationError) as raised:
        build_definitions({variable: value})

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{variable}={value!r}")
    assert allowed in message


def test_bad_llm_settings_fail_the_load_whatever_the_provider():
    for provider in ({}, {"GLIMPSE_PROVIDER": "offline"}):
        with pytest.raises(ConfigurationError, match="GLIMPSE_DAILY_BUDGET_USD"):
            build_definitions({**provider, "GLIMPSE_DAILY_BUDGET_USD": "cheap"})


HEAVY_LIBRARIES = [
    "pandas", "pyarrow", "numpy", "sklearn", "dbscan", "matplotlib", "PIL", "boto3", "botocore",
    "requests", "feedparser", "slack_sdk", "openai", "onnxruntime", "tokenizers", "lancedb",
    "fastapi", "uvicorn", "twilio",
]  # fmt: skip


@pytest.mark.parametrize("provider", ["offline", "openai"])
@pytest.mark.process
def test_loading_the_code_location_loads_no_heavy_library(provider):
    """Steps load what they use when they run; the code location (every run, every reload and,
    on a distributed executor, every step pays for it) loads none of it."""
    script = (
        "import sys; from glimpse_assets import defs; defs().get_repository_def(); "
        f"print(','.join(m for m in {HEAVY_LIBRARIES!r} if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OPENAI_"))}
    env |= {"GLIMPSE_PROVIDER": provider, "OPENAI_API_KEY": "unused"}
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 0, completed.stderr
    # With openai, the configured resource is dagster-openai's OpenAIResource: the SDK loads.
    expected = "openai" if provider == "openai" else ""
    assert completed.stdout.strip() == expected


# -- the code location, loaded by Dagster's own processes (slow) ---------------------------


@pytest.fixture
def dagster_env(tmp_path) -> dict[str, str]:
    """A process environment with a fresh DAGSTER_HOME holding the repo's dagster.yaml and no
    Glimpse, OpenAI or Currents settings, so the code location loads its offline defaults."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GLIMPSE_", "OPENAI_", "CURRENTS_", "DAGSTER_"))
    }
    env["DAGSTER_HOME"] = str(home)
    return env


def run_dagster(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "dagster"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.process
def test_code_location_validates_with_the_dagster_cli(dagster_env):
    completed = run_dagster(["definitions", "validate", "-m", "glimpse_assets"], dagster_env)

    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.process
def test_code_location_with_a_bad_setting_fails_validation_naming_it(dagster_env):
    dagster_env["GLIMPSE_PROVIDER"] = "carrier-pigeon"
    completed = run_dagster(["definitions", "validate", "-m", "glimpse_assets"], dagster_env)

    assert completed.returncode != 0
    assert "GLIMPSE_PROVIDER" in completed.stdout + completed.stderr


def run_dg(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Dagster's `dg` CLI from the repo root, with the project's venv active, as
    docs/development.md says."""
    return subprocess.run(
        [str(VENV_BIN / "dg"), *args],
        cwd=REPO_ROOT,
        env={**env, "VIRTUAL_ENV": str(VENV_BIN.parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.process
def test_code_location_checks_and_lists_with_dg(dagster_env):
    checked = run_dg(["check", "defs"], dagster_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    listed = run_dg(["list", "defs", "--json"], dagster_env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert '"raw_news"' in listed.stdout and '"news_daily_schedule"' in listed.stdout


@pytest.mark.process
def test_code_location_launches_an_asset_partition_with_dg(dagster_env, tmp_path):
    dagster_env["GLIMPSE_STORAGE_URI"] = str(tmp_path / "storage")
    launched = run_dg(["launch", "--assets", "raw_news", "--partition", "2026-03-01"], dagster_env)

    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert (tmp_path / "storage" / "raw_news" / "2026-03-01.parquet").is_file()


WEBSERVER_START_LIMIT_SECONDS = 90


@pytest.fixture
def webserver(dagster_env, tmp_path):
    """A dagster-webserver serving the code location on 127.0.0.1; always stopped afterwards."""
    port = free_port()
    log_path = tmp_path / "webserver.log"
    command = [str(VENV_BIN / "dagster-webserver"), "-m", "glimpse_assets"]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            env=dagster_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            http_ok(f"{base_url}/server_info", timeout=5),
            "dagster-webserver",
            process=process,
            log=log_path,
            timeout=WEBSERVER_START_LIMIT_SECONDS,
            interval=0.5,
        )
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.process
def test_code_location_serves_every_asset_in_the_webserver(webserver):
    query = "{ assetNodes { assetKey { path } groupName } }"
    response = requests.post(f"{webserver}/graphql", json={"query": query}, timeout=60)

    assert response.status_code == 200, response.text
    payload = response.json()
    assert "errors" not in payload, payload
    groups = {
        "/".join(node["assetKey"]["path"]): node["groupName"]
        for node in payload["data"]["assetNodes"]
    }
    assert groups == GROUPS


def test_moderation_is_checked_with_the_openai_provider_unless_turned_off():
    def check_names(env):
        graph = build_definitions(env).resolve_asset_graph()
        return {key.name for key in graph.asset_check_keys}

    openai_env = {"GLIMPSE_PROVIDER": "openai", "OPENAI_API_KEY": "sk-x"}
    assert "image_prompt_passes_moderation" in check_names(openai_env)
    assert "image_prompt_passes_moderation" not in check_names(
        {**openai_env, "GLIMPSE_MODERATION": "off"}
    )
    assert "image_prompt_passes_moderation" not in check_names({"GLIMPSE_PROVIDER": "offline"})
    with pytest.raises(ConfigurationError, match="GLIMPSE_MODERATION"):
        build_definitions({**openai_env, "GLIMPSE_MODERATION": "maybe"})


def test_llm_settings_come_from_the_environment():
    env = {
        "GLIMPSE_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-x",
        "GLIMPSE_DAILY_BUDGET_USD": "2.5",
        "GLIMPSE_LLM_MAX_CONCURRENCY": "3",
        "GLIMPSE_LLM_MAX_RETRIES": "1",
        "GLIMPSE_LLM_TIMEOUT_SECONDS": "30",
        "GLIMPSE_STORAGE_URI": "s3://bucket/glimpse",
    }
    calls = resources_from_env(env)["text_provider"].calls

    assert (calls.daily_budget_usd, calls.max_concurrency, calls.max_retries) == (2.5, 3, 1)
    assert (calls.timeout_seconds, calls.object_store.storage_uri) == (30.0, "s3://bucket/glimpse")
    with pytest.raises(ConfigurationError, match="GLIMPSE_DAILY_BUDGET_USD"):
        resources_from_env({**env, "GLIMPSE_DAILY_BUDGET_USD": "lots"})


def test_the_budget_covers_every_asset_in_the_llm_pool_found_by_what_it_declares():
    env = {"GLIMPSE_PROVIDER": "openai", "OPENAI_API_KEY": "sk-x"}
    repository = build_definitions(env).get_repository_def()

    keys = {key.to_user_string() for key in llm_asset_keys(repository)}
    assert keys == {
        "image_prompt",
        "news_image",
        "anomaly_summaries",
        "article_embeddings",
        "activity_stories",
        "social_post",  # its caption
    }

    @dg.asset(pool="llm")
    def a_new_domains_summary() -> None: ...

    widened = dg.Definitions.merge(
        build_definitions(env), dg.Definitions(assets=[a_new_domains_summary])
    ).get_repository_def()
    assert "a_new_domains_summary" in {k.to_user_string() for k in llm_asset_keys(widened)}
