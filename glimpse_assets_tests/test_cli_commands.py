"""`glimpse search`, `ask`, `ingest` and `status` run as the real entry point (`.venv/bin/glimpse`
in a subprocess) against storage this module prepares: one day of the sample news through the
search chain (2026-03-02), a failed news run (2026-03-03), both recorded in a Dagster instance at
a temporary DAGSTER_HOME, and some LLM spend recorded for today. Asserted: what is printed, the
exit status, and what lands in the ingest inbox (locally and on moto's S3 server).
"""

import json
from pathlib import Path

import dagster as dg
import pytest

from glimpse_assets.llm.budget import BUDGET_PREFIX, BudgetLedger, Spend
from glimpse_assets.news.sources import NewsSource, NewsSourceError, SampleNewsSource
from glimpse_assets.search.files import file_document
from glimpse_assets.search.inbox import accepted_document, document_id, read_day_documents
from glimpse_assets.storage.object_store import LocalObjectStore, S3ObjectStore
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets_tests.support.pdf import pdf_bytes
from glimpse_assets_tests.support.s3 import S3Server, new_bucket
from glimpse_assets_tests.support.serve_process import run_glimpse
from glimpse_assets_tests.support.stores import search_resources_at

pytestmark = pytest.mark.process  # every test runs `glimpse`

DAY, FAILED_DAY = "2026-03-02", "2026-03-03"
HONEY = "Honey Harvest Begins at Rooftop Hives Above the Quillhaven Library"
SPENT_USD = 0.0123


class BrokenNewsSource(SampleNewsSource):
    """The sample source, down: its day fails."""

    def fetch_day(self, day):
        raise NewsSourceError("the news API is down")


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict[str, str]:
    """The environment of a storage and an instance holding the sample day, a failed day and
    today's spend."""
    from glimpse_assets.news.assets import raw_news
    from glimpse_assets.search.assets import search_assets

    folder = tmp_path_factory.mktemp("cli")
    root, home = str(folder / "storage"), folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    resources = search_resources_at(root)
    instance = dg.DagsterInstance.local_temp(tempdir=str(home))
    assert dg.materialize([raw_news], partition_key=DAY, resources=resources, instance=instance)
    assert dg.materialize(search_assets, partition_key=DAY, resources=resources, instance=instance)
    broken: NewsSource = BrokenNewsSource()
    failed = dg.materialize(
        [raw_news],
        partition_key=FAILED_DAY,
        resources={**resources, "news_source": broken},
        instance=instance,
        raise_on_error=False,
    )
    assert not failed.success
    ledger = BudgetLedger(JsonRecords(LocalObjectStore(root), BUDGET_PREFIX), None)
    ledger.settle(ledger.reserve(0.5, 1, {"step": "test"}), Spend(usd=SPENT_USD, paid_calls=1))
    return {"GLIMPSE_STORAGE_URI": root, "DAGSTER_HOME": str(home)}


def glimpse(*args: str, env: dict[str, str], timeout: float = 120):
    return run_glimpse(list(args), {"DAGSTER_HOME": "/nonexistent-dagster-home", **env}, timeout)


def test_every_command_has_help():
    for command in ("search", "ask", "ingest", "status"):
        done = glimpse(command, "--help", env={})
        assert done.returncode == 0, done.stderr
        assert f"usage: glimpse {command}" in done.stdout
        assert "exit status" in done.stdout


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["search", "   "], "the query is blank"),
        (["search", "honey", "--limit", "99"], "--limit is 99; it must be 1 to 50"),
        (["search", "honey", "--day", "yesterday"], "--day is not a day like 2026-03-02"),
        (["search", "honey", "--since", "2026-03-05", "--until", "2026-03-01"], "is after"),
        (["ask", ""], "the question is blank"),
        (["ask", "why", "--seconds", "0"], "--seconds must be more than 0"),
        (["status", "--days", "2026-03-05..2026-03-01"], "ends before it starts"),
        (["status", "--days", "2025-01-01..2025-01-02"], "2025-01-01 is not a partition"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(tmp_path, args, problem):
    done = glimpse(*args, env={"GLIMPSE_STORAGE_URI": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"glimpse {args[0]}: ")
    assert problem in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


@pytest.mark.parametrize("command", [["search", "honey"], ["ingest", "."], ["status"]])
def test_a_bad_setting_is_one_line_naming_the_variable(command):
    done = glimpse(*command, env={"GLIMPSE_STORAGE_URI": "ftp://example/glimpse"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"glimpse {command[0]}: ")
    assert "GLIMPSE_STORAGE_URI" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


@pytest.mark.slow
def test_search_prints_the_best_hits_and_their_json(stored):
    done = glimpse("search", "honey from rooftop hives", "--limit", "2", env=stored)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"1. {HONEY}"
    assert lines[1].startswith(f"   {DAY} | score 0.")
    assert "https://news.example/sample/honey-harvest" in lines[1]
    assert sum(line[:3] in ("1. ", "2. ") for line in lines) == 2

    as_json = glimpse("search", "honey from rooftop hives", "--limit", "2", "--json", env=stored)
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["index"] == "ready" and body["query"] == "honey from rooftop hives"
    assert body["results"][0]["title"] == HONEY
    assert len(body["results"]) == 2
    assert body["results"][0]["score"] > body["results"][1]["score"]


@pytest.mark.slow
def test_search_says_when_nothing_is_found_or_indexed(stored, tmp_path):
    done = glimpse("search", "honey", "--day", "2026-03-05", env=stored)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "glimpse search: nothing found\n")

    empty = glimpse("search", "honey", env={"GLIMPSE_STORAGE_URI": str(tmp_path)})
    assert empty.returncode == 1
    assert empty.stderr.startswith("glimpse search: nothing is indexed yet")


@pytest.mark.slow
def test_ask_answers_with_numbered_citations(stored):
    done = glimpse("ask", "Who is harvesting honey from beehives?", env=stored)
    assert done.returncode == 0, done.stderr
    answer, blank, first, *rest = done.stdout.splitlines()
    assert answer.endswith(f"({HONEY}, {DAY})") and blank == ""
    assert first.startswith(f"[1] {HONEY} | {DAY} | https://news.example/sample/honey-harvest")
    assert first.endswith("(named in the answer)")
    assert rest[-1] == "(extractive: best-hit-extractive)"

    as_json = glimpse("ask", "Who is harvesting honey from beehives?", "--json", env=stored)
    body = json.loads(as_json.stdout)
    assert body["method"] == "extractive" and body["answer"] == answer
    assert body["citations"][0]["title"] == HONEY and body["citations"][0]["cited"] is True


def test_ask_without_an_index_exits_1(tmp_path):
    done = glimpse("ask", "Who is harvesting honey?", env={"GLIMPSE_STORAGE_URI": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr.startswith("glimpse ask: nothing is indexed yet")
    assert "honey" not in done.stderr


def sample_files(folder: Path) -> dict[str, Path]:
    """Good and bad files, some in a subfolder, one hidden."""
    (folder / "sub").mkdir(parents=True)
    (folder / ".drafts").mkdir()
    files = {
        "harbour.md": "# Harbour Reopens\n\nThe harbour reopened on Monday after repairs.\n",
        "sub/fair.html": "<html><head><title>Orchard Fair</title><style>p {}</style></head>"
        "<body><h1>Fair</h1><p>Apples &amp; pears at the orchard fair.</p></body></html>",
        "sub/market.txt": "Night market\nStalls open late on Friday.\n",
        "empty.txt": "  \n",
        ".drafts/hidden.txt": "not for the index",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "sub/lighthouse.pdf").write_bytes(
        pdf_bytes(["Keepers repaint the lighthouse.", "Gulls nest below."], "Lighthouse Report")
    )
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    return {name: folder / name for name in [*files, "sub/lighthouse.pdf", "broken.pdf"]}


def inbox_titles(store) -> dict[str, str]:
    days = {key.split("/")[2] for key in store.list("_inbox/documents")}
    records = [record for day in days for record in read_day_documents(store, day)[0]]
    return {record["id"]: record["document"]["title"] for record in records}


def test_ingest_stores_each_file_as_post_documents_would_and_skips_them_after(tmp_path):
    files = sample_files(tmp_path / "docs")
    env = {"GLIMPSE_STORAGE_URI": str(tmp_path / "storage")}

    done = glimpse("ingest", str(tmp_path / "docs"), env=env)

    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == "4 stored, 0 already stored, 2 failed"
    assert sorted(done.stderr.splitlines()) == [
        f"glimpse ingest: {files['broken.pdf']}: not a readable PDF (PdfStreamError)",
        f"glimpse ingest: {files['empty.txt']}: no text in it",
    ]
    stored = inbox_titles(LocalObjectStore(tmp_path / "storage"))
    good = ["harbour.md", "sub/fair.html", "sub/market.txt", "sub/lighthouse.pdf"]
    expected_ids = {document_id(accepted_document(file_document(files[name]))) for name in good}
    assert set(stored) == expected_ids
    assert sorted(stored.values()) == [
        "Harbour Reopens",
        "Lighthouse Report",
        "Night market",
        "Orchard Fair",
    ]

    again = glimpse("ingest", *(str(files[name]) for name in good), "--verbose", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "0 stored, 4 already stored, 0 failed"
    assert sum(line.startswith("already stored: ") for line in again.stdout.splitlines()) == 4


def test_ingest_names_a_missing_path_and_goes_on(tmp_path):
    (tmp_path / "note.md").write_text("# A note\n\nSome words.\n")
    env = {"GLIMPSE_STORAGE_URI": str(tmp_path / "storage")}
    done = glimpse("ingest", str(tmp_path / "gone.md"), str(tmp_path / "note.md"), env=env)
    assert done.returncode == 1
    assert done.stderr == f"glimpse ingest: {tmp_path / 'gone.md'}: no such file or folder\n"
    assert done.stdout.splitlines()[-1] == "1 stored, 0 already stored, 1 failed"


def test_ingest_onto_s3(tmp_path, moto_server):
    server = S3Server("moto", moto_server, "testing", "testing")
    s3_client = server.client()
    s3_bucket = new_bucket(s3_client)
    files = sample_files(tmp_path / "docs")
    env = {"GLIMPSE_STORAGE_URI": f"s3://{s3_bucket}/glimpse", **server.env()}

    done = glimpse("ingest", str(files["harbour.md"]), str(files["sub/lighthouse.pdf"]), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "2 stored, 0 already stored, 0 failed"
    store = S3ObjectStore(s3_bucket, "glimpse", s3_client)
    assert sorted(inbox_titles(store).values()) == ["Harbour Reopens", "Lighthouse Report"]

    again = glimpse("ingest", str(files["harbour.md"]), env=env)
    assert again.stdout.splitlines()[-1] == "0 stored, 1 already stored, 0 failed"


@pytest.mark.slow
def test_status_reads_the_days_the_index_and_the_spend(stored):
    done = glimpse("status", "--days", "2026-03-01..2026-03-03", "--json", env=stored)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["days"] == {"first": "2026-03-01", "last": FAILED_DAY}
    assert body["runs"] is True
    search, news = body["domains"]["search"], body["domains"]["news"]
    assert search["assets"] == ["article_chunks", "article_embeddings", "search_index"]
    assert (search["stored"], search["failed"]) == ([DAY], [])
    assert search["missing"] == ["2026-03-01", FAILED_DAY]
    assert search["newest_stored"] == DAY
    assert news["failed"] == [FAILED_DAY]  # raw_news failed that day
    assert news["missing"] == ["2026-03-01", DAY]  # raw_news alone is not the whole chain
    assert news["newest_stored"] is None
    assert body["search_index_rows"] > 0
    assert body["llm_spend_today"]["spent_usd"] == SPENT_USD
    assert body["llm_spend_today"]["paid_calls"] == 1

    table = glimpse("status", "--days", "2026-03-01..2026-03-03", env=stored)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("Days 2026-03-01..2026-03-03 (UTC), from the Dagster instance")
    assert f"search         1       0        2  {DAY}" in lines
    assert "news           0       1        2  -" in lines
    assert f"         failed: {FAILED_DAY}" in lines
    assert f"search index: {body['search_index_rows']} rows" in lines
    assert any(line.startswith("LLM spend today") and "$0.0123" in line for line in lines)


def test_status_with_no_instance_says_nothing_has_run(tmp_path):
    env = {"GLIMPSE_STORAGE_URI": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "no-home")}
    done = glimpse("status", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("glimpse status: nothing has run yet")
    assert "search index: 0 rows" in done.stdout.splitlines()
