"""`GET /ask` on a real `glimpse serve` (a process on a free loopback port) driven with httpx,
over a day of the sample news materialised through the search chain.

Offline: the answer cites a stored article (its chunk id, title, day and url as the index holds
them) and is the SMS's extractive answer; no key or a wrong key -> 401; a blank or too long
question -> 422 that does not repeat it; the route in /openapi.json. With the local OpenAI double
as the model: its answer and the source it names; a model slower than the bound -> the
extractive answer, the double having been asked. Without an index: 503 with its reason, and the
rate limit. At the end, no line the services wrote holds a question.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from glimpse_assets.sms.answers import EXTRACTIVE_MODEL, MAX_REPLY_CHARS, extractive_answer
from glimpse_assets_tests.support.fake_openai import CHAT, FakeOpenAI, answer, slow
from glimpse_assets_tests.support.serve_process import index_sample_day, serve_process, warmed

KEY = "ask-test-api-key-0123456789"
OTHER_KEY = "ask-test-other-key-0123456789"
DAY = "2026-03-02"
HONEY = "Honey Harvest Begins at Rooftop Hives Above the Quillhaven Library"
HONEY_QUESTION = "Who is harvesting honey from beehives?"
ORCHID = "Botanists Find a Rare Blue Orchid Flowering in the Silverbeck Gorge"
TEXT_MODEL = "gpt-ask-test"
QUESTIONS: set[str] = set()  # every question sent, for the log check at the end
SERVICES: list = []


def ask(service, q: str, **client) -> httpx.Response:
    QUESTIONS.add(q)
    with service.client(**client) as http:
        return http.get("/ask", params={"q": q})


def hits_for(service, q: str) -> list[dict]:
    with service.client() as http:
        response = http.get("/search", params={"q": q, "k": 3})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def env_at(root: str, **extra: str) -> dict[str, str]:
    return {
        "GLIMPSE_STORAGE_URI": root,
        "GLIMPSE_API_KEYS": KEY,
        "GLIMPSE_PROVIDER": "offline",
        **extra,
    }


@pytest.fixture(scope="module")
def indexed_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("ask") / "storage")
    index_sample_day(root, DAY)
    return root


@pytest.fixture(scope="module")
def offline(indexed_root):
    with serve_process(env_at(indexed_root)) as service:
        SERVICES.append(service)
        yield warmed(service)


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def with_model(indexed_root, fake):
    env = env_at(
        indexed_root,
        GLIMPSE_PROVIDER="openai",
        GLIMPSE_TEXT_MODEL=TEXT_MODEL,
        OPENAI_API_KEY="sk-test-ask-0123456789",
        OPENAI_BASE_URL=fake.base_url,
        GLIMPSE_ASK_SECONDS="3",
        GLIMPSE_LLM_MAX_RETRIES="0",
        GLIMPSE_LLM_TIMEOUT_SECONDS="5",
    )
    with serve_process(env) as service:
        SERVICES.append(service)
        yield warmed(service)  # the query embedder is loaded before any bound


def indexed_chunk(root: str, chunk_id: str) -> dict:
    """The row of the search index with this chunk id, read from the index itself."""
    import lancedb

    from glimpse_assets.providers.minilm_embedder import MiniLMEmbedder

    table = lancedb.connect(str(Path(root, "_vector_index"))).open_table(
        MiniLMEmbedder().index_table
    )
    rows = table.search().where(f"id = '{chunk_id}'").limit(2).to_list()
    assert len(rows) == 1, chunk_id
    return rows[0]


# -- offline -------------------------------------------------------------------------------


@pytest.mark.process
def test_the_answer_cites_the_stored_article_it_is_from(offline, indexed_root):
    response = ask(offline, HONEY_QUESTION)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["question"] == HONEY_QUESTION
    assert (body["method"], body["model"]) == ("extractive", EXTRACTIVE_MODEL)
    (cited,) = body["citations"]  # the extractive answer is from the best hit alone
    stored = indexed_chunk(indexed_root, cited["chunk_id"])
    assert cited == {
        "chunk_id": stored["id"],
        "document_id": stored["document_id"],
        "title": HONEY,
        "day": DAY,
        "url": stored["url"],
        "cited": True,
    }
    assert (stored["title"], stored["published_day"]) == (HONEY, DAY)
    assert stored["url"].startswith("https://")
    # The SMS's answering code: the same text a text message gets, naming its article.
    hits = hits_for(offline, HONEY_QUESTION)
    assert hits[0]["id"] == cited["chunk_id"]
    assert body["answer"] == extractive_answer(HONEY_QUESTION, hits)
    assert body["answer"].endswith(f"({HONEY}, {DAY})") and "hives" in body["answer"].lower()
    assert len(body["answer"]) <= MAX_REPLY_CHARS


@pytest.mark.process
def test_another_question_cites_another_article(offline):
    body = ask(offline, "Where did botanists find a rare flower?").json()

    assert [c["title"] for c in body["citations"]] == [ORCHID]
    assert body["answer"].endswith(f"({ORCHID}, {DAY})")


@pytest.mark.parametrize("key", [None, "not-the-key-0123456789"])
@pytest.mark.process
def test_no_key_or_a_wrong_key_is_401(offline, key):
    response = ask(offline, HONEY_QUESTION, api_key=key)

    assert response.status_code == 401
    assert "answer" not in response.json()


LONG = "tellmeaboutthehoney " * 51  # 1,020 characters


@pytest.mark.parametrize("q", ["", "   ", LONG])
@pytest.mark.process
def test_a_blank_or_too_long_question_is_422_without_repeating_it(offline, q):
    response = ask(offline, q)

    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["query", "q"]
    assert "tellmeaboutthehoney" not in response.text


@pytest.mark.process
def test_the_route_is_in_the_openapi_schema_with_its_answer_and_errors(offline):
    with offline.client(api_key=None) as http:
        schema = http.get("/openapi.json").json()

    operation = schema["paths"]["/ask"]["get"]
    (parameter,) = operation["parameters"]
    assert parameter["name"] == "q" and parameter["required"] is True
    assert parameter["schema"]["maxLength"] == 1000 and parameter["schema"]["minLength"] == 1
    assert set(operation["responses"]) >= {"200", "401", "422", "429", "503"}
    answer_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    model = schema["components"]["schemas"][answer_schema["$ref"].rsplit("/", 1)[1]]
    assert set(model["required"]) >= {"question", "answer", "method", "model", "citations"}
    (example,) = model["examples"]
    assert example["citations"][0]["cited"] is True
    citation = schema["components"]["schemas"]["Citation"]
    assert set(citation["properties"]) == {
        "chunk_id",
        "document_id",
        "title",
        "day",
        "url",
        "cited",
    }


# -- with a model --------------------------------------------------------------------------


@pytest.mark.process
def test_with_a_model_the_answer_is_the_models_and_the_source_it_names_is_cited(with_model, fake):
    question = "Which flower did the botanists find in the gorge?"
    hits = hits_for(with_model, question)
    before = fake.count(CHAT)
    fake.script(CHAT, answer(f"[2] The second source says so: {hits[1]['title']}."))

    body = ask(with_model, question).json()

    assert fake.count(CHAT) == before + 1
    assert (body["method"], body["model"]) == ("model", TEXT_MODEL)
    assert body["answer"].startswith("The second source says so")
    # Every hit the model read is a citation; the one its answer names comes first.
    assert [c["chunk_id"] for c in body["citations"]] == [
        hits[1]["id"],
        hits[0]["id"],
        hits[2]["id"],
    ]
    assert [c["cited"] for c in body["citations"]] == [True, False, False]
    (asked,) = fake.answered(CHAT)[-1:]
    assert question in asked.body["messages"][-1]["content"]  # the SMS's prompt, fenced


@pytest.mark.process
def test_a_slow_model_gets_the_extractive_answer_within_the_bound(with_model, fake):
    question = "Are the beekeepers selling jars of honey?"
    hits = hits_for(with_model, question)
    before = fake.count(CHAT)
    fake.script(CHAT, slow(30))  # far past the 3 s bound, and the 5 s client timeout

    response = ask(with_model, question)

    assert response.status_code == 200, response.text
    body = response.json()
    # Not "model failed": the answer went at the bound, before the call's own timeout.
    assert (body["method"], body["model"]) == ("extractive (model too slow)", EXTRACTIVE_MODEL)
    assert body["answer"] == extractive_answer(question, hits)
    assert [c["chunk_id"] for c in body["citations"]] == [hits[0]["id"]]
    # The model was asked, and left to finish (on a busy machine its request may arrive late).
    for _ in range(300):
        if fake.count(CHAT) > before:
            break
        time.sleep(0.1)
    assert fake.count(CHAT) == before + 1


# -- without an index ----------------------------------------------------------------------


@pytest.mark.process
def test_without_an_index_ask_is_503_with_its_reason_and_rate_limited(tmp_path):
    env = env_at(
        str(tmp_path / "storage"),
        GLIMPSE_API_KEYS=f"{KEY},{OTHER_KEY}",  # the limit is per key: OTHER_KEY warms up
        GLIMPSE_RATE_LIMIT_PER_SECOND="0.001",
        GLIMPSE_RATE_LIMIT_BURST="3",
    )
    with serve_process(env) as service:
        SERVICES.append(service)
        with warmed(service, OTHER_KEY).client(api_key=OTHER_KEY) as http:
            search = http.get("/search", params={"q": HONEY_QUESTION})
        answers = [ask(service, HONEY_QUESTION) for _ in range(4)]

    assert search.status_code == 200 and search.json()["index"] == "empty"
    assert [response.status_code for response in answers] == [503, 503, 503, 429]
    reason = answers[0].json()["detail"]
    assert "nothing is indexed yet" in reason and "search_index" in reason
    assert "Retry-After" not in answers[0].headers  # no point: it waits for a run, not seconds
    assert "Retry-After" in answers[3].headers


# -- the response, without HTTP ------------------------------------------------------------


def hit(chunk_id: str, title: str) -> dict:
    return {
        "id": chunk_id,
        "document_id": f"doc-{title[:5]}",
        "title": title,
        "url": None,
        "published": f"{DAY}T08:00:00+00:00",
        "text": f"{title}\nThe beekeepers sold the honey at the library desk.",
    }


def test_every_chunk_of_the_named_article_is_cited_and_nothing_found_cites_nothing():
    from glimpse_assets.providers.base import TextResult
    from glimpse_assets.serve.ask_routes import NOTHING_FOUND, answer_body
    from glimpse_assets.sms.answering import MODEL, NO_HITS, Answer
    from glimpse_assets.sms.answers import shape_answer

    chunks = (hit("a", ORCHID), hit("b", HONEY), hit("c", HONEY), hit("d", "Fourth"))
    text = shape_answer("[3] They sold it at the desk.", chunks)
    result = TextResult(text=text, provider="openai", model=TEXT_MODEL, method="a model")

    body = answer_body("who sold it?", Answer(MODEL, result, chunks))
    nothing = answer_body("who sold it?", Answer(NO_HITS))

    assert body.answer == f"They sold it at the desk. ({HONEY}, {DAY})"
    # The model read three hits (MAX_SOURCES); two are chunks of the article it names.
    assert [(c.chunk_id, c.cited) for c in body.citations] == [
        ("b", True),
        ("c", True),
        ("a", False),
    ]
    assert body.citations[0].url is None and body.citations[0].day == DAY
    assert (nothing.answer, nothing.method, nothing.citations) == (
        NOTHING_FOUND,
        "nothing found",
        [],
    )


# -- the logs ------------------------------------------------------------------------------


@pytest.mark.process
def test_no_line_any_service_wrote_holds_a_question(offline):
    # Its own question, so that it holds in any order; with those of every test that ran before.
    assert ask(offline, HONEY_QUESTION).status_code == 200
    assert hits_for(offline, HONEY_QUESTION)  # a search of the same words
    output = "\n".join(service.output() for service in SERVICES)
    assert '"GET /ask?(query not logged) HTTP/1.1" 200' in output
    assert '"GET /search?(query not logged) HTTP/1.1" 200' in output
    assert "GET /ask: " in output  # the route's own line: lengths and kinds
    for question in (q for q in QUESTIONS if q.strip()):
        for spelling in {question, quote(question), quote_plus(question), question[:40]}:
            assert spelling not in output, spelling
