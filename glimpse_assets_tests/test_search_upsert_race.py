"""Upserts of one day at once, in real processes: whatever the interleaving, the index ends with
one row per chunk id; a run that finds duplicates (left by an older race) heals them; a writer
killed while it holds the table holds it only until its lease runs out."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time

import pytest

from glimpse_assets.search.index import connect, upsert_day
from glimpse_assets.search.writer_lock import TableBusyError, lock_key, table_lease
from glimpse_assets.storage.object_store import open_object_store
from glimpse_assets_tests.support.search import rows

DAY = "2026-03-01"
CHUNKS = 160
PROCESSES = 3
ROUNDS = 3


def upsert_rounds(root: str, barrier, rounds: int) -> None:
    """One contender: each round, wait for the others, then upsert the day into that round's
    table (the same rows as every other contender)."""
    day_rows = rows(DAY, CHUNKS)
    for round_number in range(rounds):
        barrier.wait(timeout=120)
        upsert_day(root, f"space{round_number}", day_rows, DAY)


def race(root: str, processes: int = PROCESSES, rounds: int = ROUNDS) -> None:
    spawn = multiprocessing.get_context("spawn")  # lancedb's runtime threads do not survive fork
    barrier = spawn.Barrier(processes)
    contenders = [
        spawn.Process(target=upsert_rounds, args=(root, barrier, rounds)) for _ in range(processes)
    ]
    for contender in contenders:
        contender.start()
    for contender in contenders:
        contender.join(timeout=600)
    assert [contender.exitcode for contender in contenders] == [0] * processes


def rows_and_ids(root: str, table: str) -> tuple[int, int]:
    ids = connect(root).open_table(table).to_arrow().column("id").to_pylist()
    return len(ids), len(set(ids))


@pytest.mark.parametrize("where", ["local", "seaweedfs"])
@pytest.mark.process
def test_concurrent_upserts_of_one_day_leave_one_row_per_chunk_id(where, tmp_path, s3_bucket_on):
    root = str(tmp_path / "storage")
    if where != "local":
        root = f"s3://{s3_bucket_on(where)[0]}/glimpse"
    race(root)
    counts = [rows_and_ids(root, f"space{n}") for n in range(ROUNDS)]
    assert counts == [(CHUNKS, CHUNKS)] * ROUNDS, counts  # (rows, distinct ids) per round


def test_a_run_heals_duplicate_rows_it_finds(tmp_path):
    root = str(tmp_path / "storage")
    day_rows = rows(DAY, CHUNKS)
    upsert_day(root, "space", day_rows, DAY)
    connect(root).open_table("space").add(day_rows)  # what an older race left behind
    assert rows_and_ids(root, "space") == (2 * CHUNKS, CHUNKS)

    result = upsert_day(root, "space", day_rows, DAY)

    assert rows_and_ids(root, "space") == (CHUNKS, CHUNKS)
    assert (result.rows, result.rows_updated, result.duplicates_removed) == (CHUNKS, CHUNKS, CHUNKS)


HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from glimpse_assets.search.writer_lock import table_lease
from glimpse_assets.storage.object_store import open_object_store
with table_lease(open_object_store(sys.argv[1]), "space", lease_seconds=2):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.mark.process
def test_a_writer_killed_holding_the_table_holds_it_only_until_its_lease_runs_out(tmp_path):
    from pathlib import Path

    root = str(tmp_path / "storage")
    script = HOLD.format(repo=str(Path(__file__).resolve().parent.parent))
    holder = subprocess.Popen([sys.executable, "-c", script, root], stdout=subprocess.PIPE)
    assert holder.stdout.readline() == b"held\n"
    store = open_object_store(root)
    with pytest.raises(TableBusyError), table_lease(store, "space", wait_seconds=3):
        pass  # alive, it renews its 2 s lease: nobody else gets the table
    holder.kill()
    holder.wait()

    started = time.monotonic()
    with table_lease(store, "space", wait_seconds=30):
        waited = time.monotonic() - started
        assert store.exists(lock_key("space"))
    assert waited < 10  # its lease ran out: taken over
    assert not store.exists(lock_key("space"))  # released


def test_a_claim_that_is_not_a_claim_does_not_lock_the_table_for_good(tmp_path):
    root = str(tmp_path / "storage")
    open_object_store(root).put(lock_key("space"), b"\x00garbage")
    result = upsert_day(root, "space", rows(DAY, 4), DAY)
    assert result.rows == 4
    assert not open_object_store(root).exists(lock_key("space"))
