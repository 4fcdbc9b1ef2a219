"""Retention of what grows one object a message: `_sms/replies/` (7 days) and `_sms/status/`
(35 days). `glimpse serve` with the SMS routes removes older records when it starts and then
once a day (one process a day on shared storage); a garbage record is removed and named."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glimpse_assets.sms.records import SmsRecords
from glimpse_assets.storage.object_store import open_object_store
from glimpse_assets_tests.support.serve_process import serve_process
from glimpse_assets_tests.support.sms import env_at

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def stamp(age: timedelta, now: datetime = NOW) -> str:
    return (now - age).isoformat(timespec="seconds")


def write(root: Path, name: str, record: dict | bytes) -> Path:
    path = root / "_sms" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(record if isinstance(record, bytes) else json.dumps(record).encode())
    return path


def reply(age: timedelta, now: datetime = NOW, state: str = "answered") -> dict:
    record = {"sid": "x", "person": "p-1", "state": state, "claimed_at": stamp(age, now)}
    if state == "answered":
        record |= {"reply": "Glimpse: ...", "kind": "help", "answered_at": stamp(age, now)}
    return record


def status(age: timedelta, now: datetime = NOW) -> dict:
    return {"sid": "x", "status": "delivered", "error_code": None, "updated_at": stamp(age, now)}


def sms_files(root: Path, folder: str) -> set[str]:
    return {p.stem for p in (root / "_sms" / folder).glob("*.json")}


def test_prune_keeps_seven_days_of_replies_and_35_of_statuses(tmp_path):
    from glimpse_assets.sms.retention import prune

    day = timedelta(days=1)
    write(tmp_path, "replies/SMold", reply(7 * day + timedelta(minutes=1)))
    write(tmp_path, "replies/SMclaim", reply(8 * day, state="answering"))
    write(tmp_path, "replies/SMfresh", reply(7 * day - timedelta(minutes=1)))
    write(tmp_path, "replies/SMgarbage", b"\x00{")
    write(tmp_path, "status/SMold", status(35 * day + timedelta(minutes=1)))
    write(tmp_path, "status/SMfresh", status(34 * day))
    write(tmp_path, "status/SMnostamp", {"sid": "x", "status": "sent"})
    write(tmp_path, "subscribers/p-1", {"number": "+15550000001", "status": "subscribed"})

    removed = prune(SmsRecords(open_object_store(str(tmp_path))), NOW)

    assert sms_files(tmp_path, "replies") == {"SMfresh"}
    assert sms_files(tmp_path, "status") == {"SMfresh"}
    assert sms_files(tmp_path, "subscribers") == {"p-1"}  # never pruned
    assert removed == {"replies": 3, "status": 2}


@pytest.mark.process
def test_the_service_prunes_when_it_starts_and_once_a_day(tmp_path):
    root = tmp_path / "storage"
    now = datetime.now(UTC)
    write(root, "replies/SM" + "a" * 32, reply(timedelta(days=9), now))
    write(root, "replies/SM" + "b" * 32, reply(timedelta(hours=1), now))
    write(root, "status/SM" + "c" * 32, status(timedelta(days=40), now))
    write(root, "status/SM" + "d" * 32, status(timedelta(days=2), now))

    with serve_process(env_at(str(root))) as service:
        waited = 0.0
        # The pass removes the records, then logs what it removed: wait for both.
        while (
            len(sms_files(root, "replies")) + len(sms_files(root, "status")) > 2
            or "sms retention: removed" not in service.output()
        ):
            assert waited < 30, "the old records were not removed"
            time.sleep(0.2)
            waited += 0.2
        output = service.output()

    assert sms_files(root, "replies") == {"SM" + "b" * 32}
    assert sms_files(root, "status") == {"SM" + "d" * 32}
    assert "removed 1 SMS replies and 1 delivery statuses" in output
    # Another process the same day finds today's pass done and leaves a new old record alone.
    write(root, "replies/SM" + "e" * 32, reply(timedelta(days=9), now))
    with serve_process(env_at(str(root))) as again:
        time.sleep(1.0)
        assert "SM" + "e" * 32 in sms_files(root, "replies")
        assert "removed" not in again.output()
