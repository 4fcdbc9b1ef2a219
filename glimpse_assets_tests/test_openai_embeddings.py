"""`OpenAIEmbedder` through the LLM gateway against `FakeOpenAI`'s /v1/embeddings on 127.0.0.1,
with the real openai SDK: what is sent, what the cache saves, what is paid and recorded, which
answers are refused; and how the settings choose the shared `embedder`."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pytest

from glimpse_assets.definitions import build_definitions
from glimpse_assets.llm.budget import BUDGET_PREFIX, utc_day
from glimpse_assets.llm.gateway import LLMCalls
from glimpse_assets.providers.base import ProviderOutputError
from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_embeddings import OpenAIEmbedder
from glimpse_assets.settings import ConfigurationError
from glimpse_assets_tests.support.fake_openai import (
    EMBEDDINGS,
    NATIVE_EMBEDDING_DIMENSION,
    embedding_vector,
    server_error,
    wrong_embeddings,
)

API_KEY = "sk-test-embeddings-0000"
PER_MILLION = 0.02  # text-embedding-3-small in the shipped price table
TEXTS = [
    "Storm knocks out power to thousands along the coast",
    "Harbour festival opens with a flotilla of paper lanterns",
    "Central bank holds interest rates steady",
    "Volunteers planted four thousand trees along the river",
    "Farmers report an early harvest after a warm spring",
]


def embedder(fake, store, api_key: str = API_KEY, **fields) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        openai=OpenAIClient(api_key=api_key, base_url=fake.base_url),
        calls=LLMCalls(object_store=store, max_retries=0, timeout_seconds=5.0),
        **fields,
    )


def expected(texts: list[str], dimension: int = 384) -> np.ndarray:
    vectors = np.array([embedding_vector(text, dimension) for text in texts], dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def spend_record(store) -> dict:
    return store.records(BUDGET_PREFIX).get(utc_day(datetime.now(UTC))) or {}


def test_texts_are_sent_in_batches_and_come_back_normalised_in_order(fake, local_store):
    result = embedder(fake, local_store, batch_size=2).embed(None, TEXTS)

    bodies = [exchange.body for exchange in fake.answered(EMBEDDINGS)]
    assert fake.count(EMBEDDINGS) == 3
    assert sorted(text for body in bodies for text in body["input"]) == sorted(TEXTS)
    for body in bodies:
        assert (body["model"], body["dimensions"], body["encoding_format"]) == (
            "text-embedding-3-small",
            384,
            "float",
        )
    np.testing.assert_allclose(result.vectors, expected(TEXTS), rtol=1e-5, atol=1e-6)
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, rtol=1e-5)
    assert (result.provider, result.model, result.revision) == (
        "openai",
        "text-embedding-3-small",
        "text-embedding-3-small",
    )
    assert "Embeddings API" in result.method


def test_cost_is_recorded_and_a_second_call_is_answered_from_the_cache(fake, local_store):
    first = embedder(fake, local_store, batch_size=2).embed(None, TEXTS)
    tokens = sum(exchange.usage["prompt_tokens"] for exchange in fake.answered(EMBEDDINGS))

    second = embedder(fake, local_store, batch_size=2).embed(None, TEXTS)

    assert fake.count(EMBEDDINGS) == 3  # nothing more was sent
    cost = tokens * PER_MILLION / 1_000_000
    assert first.metadata["llm_requests"] == 3 and first.metadata["cache_misses"] == 3
    assert first.metadata["usage_prompt_tokens"] == tokens
    assert first.metadata["cost_usd"] == round(cost, 6)  # the gateway's metadata: micro-dollars
    assert (second.metadata["llm_requests"], second.metadata["cache_hits"]) == (0, 3)
    assert second.metadata["cost_usd"] == 0.0
    np.testing.assert_array_equal(first.vectors, second.vectors)
    record = spend_record(local_store)
    assert record["spent_usd"] == pytest.approx(cost)
    assert (record["paid_calls"], record["reserved"]) == (3, {})


def test_a_repeated_text_is_sent_once(fake, local_store):
    texts = [TEXTS[0], TEXTS[1], TEXTS[0]]

    result = embedder(fake, local_store).embed(None, texts)

    assert [exchange.body["input"] for exchange in fake.answered(EMBEDDINGS)] == [TEXTS[:2]]
    np.testing.assert_array_equal(result.vectors[0], result.vectors[2])
    assert (result.metadata["texts"], result.metadata["unique_texts"]) == (3, 2)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (wrong_embeddings(dimension=383), "vectors of length 383, expected 384"),
        (wrong_embeddings(extra_vectors=-1), "returned 1 embeddings for 2 inputs"),
        (wrong_embeddings(extra_vectors=1), "returned 3 embeddings for 2 inputs"),
    ],
)
def test_a_malformed_answer_is_refused_with_its_reason_and_not_cached(
    fake, local_store, fault, reason
):
    fake.script(EMBEDDINGS, fault)

    with pytest.raises(dg.Failure) as raised:
        embedder(fake, local_store).embed(None, TEXTS[:2])

    assert reason in raised.value.description
    assert isinstance(raised.value.__cause__, ProviderOutputError)
    assert raised.value.allow_retries is False
    assert spend_record(local_store)["rejected_calls"] == 1  # it was paid for all the same
    # Nothing was cached: the next call asks again, and gets a good answer.
    result = embedder(fake, local_store).embed(None, TEXTS[:2])
    assert fake.count(EMBEDDINGS) == 2 and result.metadata["llm_requests"] == 1


def test_a_server_error_fails_naming_the_call_without_the_key(fake, local_store):
    fake.script(EMBEDDINGS, server_error(503, f"overloaded (key {API_KEY})"))

    with pytest.raises(dg.Failure) as raised:
        embedder(fake, local_store).embed(None, TEXTS[:1])

    assert "embeddings call to text-embedding-3-small failed: HTTP 503" in raised.value.description
    assert API_KEY not in raised.value.description


def test_a_model_without_shortening_is_asked_for_nothing_and_held_to_its_length(fake, local_store):
    native = embedder(fake, local_store, model="nomic-embed-text", dimensions=768)

    result = native.embed(None, TEXTS[:2])

    (exchange,) = fake.answered(EMBEDDINGS)
    assert "dimensions" not in exchange.body
    assert result.vectors.shape == (2, NATIVE_EMBEDDING_DIMENSION)
    assert (native.dimension, native.index_table) == (768, "openai_nomic_embed_text_768")
    with pytest.raises(dg.Failure, match="vectors of length 768, expected 384"):
        embedder(fake, local_store, model="nomic-embed-text").embed(None, TEXTS[2:3])


def test_a_query_outside_dagster_reads_the_key_from_the_environment(fake, local_store, monkeypatch):
    """The service calls the resource as built, with no context: the gateway still caches and
    accounts, and the key behind dg.EnvVar is the one sent."""
    monkeypatch.setenv("GLIMPSE_TEST_EMBEDDINGS_KEY", API_KEY)
    service = embedder(fake, local_store, api_key=dg.EnvVar("GLIMPSE_TEST_EMBEDDINGS_KEY"))

    query = service.embed_query("harbour festival")
    again = service.embed_query("harbour festival")

    (request,) = fake.requests(EMBEDDINGS)
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert query.shape == (384,)
    np.testing.assert_allclose(query, expected(["harbour festival"])[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(query, again)
    monkeypatch.delenv("GLIMPSE_TEST_EMBEDDINGS_KEY")
    with pytest.raises(ConfigurationError, match="GLIMPSE_TEST_EMBEDDINGS_KEY is not set"):
        service.embed_query("something new")


@dg.asset
def vectors(context, embedder: OpenAIEmbedder) -> None:
    result = embedder.embed(context, TEXTS)
    context.add_output_metadata({"requests": result.metadata["llm_requests"]})


def test_an_asset_embeds_through_the_resource_in_a_run(fake, local_io_manager, monkeypatch):
    monkeypatch.setenv("GLIMPSE_TEST_EMBEDDINGS_KEY", API_KEY)

    store = local_io_manager.object_store
    run = dg.materialize(
        [vectors],
        resources={
            "io_manager": local_io_manager,
            "embedder": embedder(fake, store, api_key=dg.EnvVar("GLIMPSE_TEST_EMBEDDINGS_KEY")),
        },
    )

    assert run.success
    (materialisation,) = run.asset_materializations_for_node("vectors")
    assert materialisation.metadata["requests"].value == 1
    assert fake.requests(EMBEDDINGS)[0].headers["authorization"] == f"Bearer {API_KEY}"


# -- which embedder the settings choose -------------------------------------------------------


def test_the_embedder_stays_offline_with_an_api_key_unless_asked():
    for env in (
        {},
        {"OPENAI_API_KEY": "sk-x"},
        {"GLIMPSE_PROVIDER": "openai", "OPENAI_API_KEY": "x"},
    ):
        assert isinstance(build_definitions(env).resources["embedder"], MiniLMEmbedder)


def test_openai_embeddings_share_the_gateway_and_client_of_the_openai_providers():
    env = {
        "GLIMPSE_EMBEDDINGS": " OpenAI ",
        "OPENAI_API_KEY": "sk-test-secret",
        "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
        "GLIMPSE_EMBEDDING_MODEL": "text-embedding-3-large",
        "GLIMPSE_EMBEDDING_DIMENSIONS": "256",
    }
    resources = dict(build_definitions(env).resources)

    embedder = resources["embedder"]
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.model, embedder.dimension) == ("text-embedding-3-large", 256)
    assert embedder.index_table == "openai_text_embedding_3_large_256"
    assert embedder.calls is resources["llm"] is resources["text_provider"].calls
    assert embedder.openai is resources["text_provider"].openai
    assert embedder.openai.api_key == dg.EnvVar("OPENAI_API_KEY")
    assert "sk-test-secret" not in repr(resources)


def test_openai_embeddings_with_offline_providers_get_a_gateway_of_their_own():
    env = {"GLIMPSE_EMBEDDINGS": "openai", "GLIMPSE_PROVIDER": "offline", "OPENAI_API_KEY": "x"}
    resources = dict(build_definitions(env).resources)

    assert isinstance(resources["embedder"], OpenAIEmbedder)
    assert resources["embedder"].calls is resources["llm"]
    assert resources["llm"].object_store is resources["object_store"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GLIMPSE_EMBEDDINGS": "openai"}, "GLIMPSE_EMBEDDINGS='openai' needs OPENAI_API_KEY"),
        ({"GLIMPSE_EMBEDDINGS": "cloud"}, "GLIMPSE_EMBEDDINGS='cloud' is not allowed"),
        ({"GLIMPSE_EMBEDDING_DIMENSIONS": "0"}, "GLIMPSE_EMBEDDING_DIMENSIONS='0' is not allowed"),
    ],
)
def test_a_bad_embedding_setting_is_one_line_naming_it(env, message):
    with pytest.raises(ConfigurationError) as raised:
        build_definitions(env)

    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith(message)


@pytest.mark.process
def test_loading_the_code_location_with_openai_embeddings_loads_no_heavy_library():
    # The SDK itself loads with dagster-openai's OpenAIResource, the configured resource.
    heavy = ["numpy", "onnxruntime", "tokenizers", "lancedb", "pandas", "boto3"]
    script = (
        "import sys; from glimpse_assets import defs; defs().get_repository_def(); "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLIMPSE_", "OPENAI_"))}
    env |= {"GLIMPSE_EMBEDDINGS": "openai", "OPENAI_API_KEY": "unused"}
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""
