"""The response cache knows which server answered: another OPENAI_BASE_URL is another cache.

Two `FakeOpenAI` servers serve the same model name; the news chain is materialised against one,
then the other (the same storage, the same requests), and each server's request count shows
which answers were reused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glimpse_assets.llm.cache import server_identity
from glimpse_assets.providers.openai_client import OpenAIClient
from glimpse_assets.providers.openai_provider import OpenAITextProvider
from glimpse_assets_tests.support.fake_openai import CHAT, IMAGES, MODERATIONS, FakeOpenAI
from glimpse_assets_tests.support.llm import (
    API_KEY,
    NOTHING_SENT,
    TEXT_MODEL,
    UP_TO_PROMPT,
    cache_files,
    metadata_of,
    openai_resources,
    run,
)

ALL_ONCE = {CHAT: 1, IMAGES: 1, MODERATIONS: 1}


@pytest.fixture
def servers():
    with FakeOpenAI() as first, FakeOpenAI() as second:
        yield first, second


@pytest.mark.slow
def test_switching_the_base_url_calls_the_other_server_not_the_first_ones_cache(
    servers, local_io_manager, local_store
):
    first, second = servers
    root = Path(local_store.storage_uri)
    on_first = openai_resources(first, local_io_manager)
    on_second = openai_resources(second, local_io_manager)  # same model names, same storage

    assert run(on_first).success
    assert (first.snapshot(), second.snapshot()) == (ALL_ONCE, NOTHING_SENT)

    switched = run(on_second)

    assert switched.success
    assert (first.snapshot(), second.snapshot()) == (ALL_ONCE, ALL_ONCE)
    assert metadata_of(switched, "image_prompt")["cache_hits"] == 0
    # The same request body went to both servers; each answer is kept under its own server.
    assert first.requests(CHAT)[0].json() == second.requests(CHAT)[0].json()
    servers_cached = {json.loads(path.read_text("utf-8"))["server"] for path in cache_files(root)}
    assert servers_cached == {server_identity(first.base_url), server_identity(second.base_url)}
    assert len(cache_files(root)) == 2 * 3

    # Back on either server, its own answers are reused: nothing more is sent.
    assert run(on_first).success and run(on_second).success
    assert (first.snapshot(), second.snapshot()) == (ALL_ONCE, ALL_ONCE)


def test_the_same_server_spelt_differently_shares_its_cache(servers, local_io_manager):
    first, _ = servers
    assert run(openai_resources(first, local_io_manager), UP_TO_PROMPT).success
    resources = openai_resources(first, local_io_manager)
    spelt = "HTTP://" + first.base_url.removeprefix("http://") + "/"  # upper case, trailing /
    client = OpenAIClient(api_key=API_KEY, base_url=spelt)
    resources["text_provider"] = OpenAITextProvider(
        openai=client, calls=resources["llm"], model=TEXT_MODEL
    )

    again = run(resources, UP_TO_PROMPT)

    assert again.success
    assert first.count(CHAT) == 1
    assert metadata_of(again, "image_prompt")["cache_hits"] == 1
    (entry,) = cache_files(Path(resources["object_store"].storage_uri), "chat")
    assert json.loads(entry.read_text("utf-8"))["server"] == first.base_url  # normalised
