"""The answer log: each answer given (an SMS reply, `GET /ask`) kept once, with its sources, so
that the day's answers can be measured against what they were made from (`answers_given`, and
its check `answers_are_grounded`).

One JSON object per answer at `_answers/<UTC day>/<id>.json` (`answer_record`): the channel
(`sms` or `ask`), the kind of answer (`sms.answering.Answer.kind`), the model that wrote it, the
answer's text, when, and its sources: each hit as `GET /ask` cites it (`sms.answering.citations`:
chunk id, document id, title, day, url, whether the text names it) with its text. All of it is
public (our text, made from indexed articles).
Never the question, a phone number, a person id or a MessageSid: an answer is kept as what we
said and what it was said from, not who asked or what.

The id makes a second record of one answer impossible (created if absent): for an SMS, a hash
of its MessageSid, so a retried webhook that is answered again (after a claim ran out) is kept
once; for `/ask`, a hash of the channel, the text, the sources and the minute, so the same
answer to the same question asked twice within a minute is one record.

Writes never hold a reply up: `AnswerLog.record` hands the write to a small pool of its own
threads and returns. At most `MAX_PENDING` writes wait (a stalled storage fills them; past
that, an answer is not kept, and one line says so), and a write that fails is one log line
naming the error's type, never its text (a storage error names keys, not answers, but the
caller's lines stay free of anything sent).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from glimpse_assets.sms.answering import Answer, citations
from glimpse_assets.storage.object_store import AlreadyExistsError, ObjectStore
from glimpse_assets.storage.records import JsonRecords

# uvicorn prints its "uvicorn.error" logger (its general log) at INFO: these lines go with it.
log = logging.getLogger("uvicorn.error.answer_log")

ANSWERS_PREFIX = "_answers"
SMS, ASK = "sms", "ask"
CHANNELS = (SMS, ASK)
MAX_PENDING = 256  # writes waiting for the storage; more answers than that are not kept
WRITE_WORKERS = 2
SAME_ANSWER_SECONDS = 60  # /ask: one answer, one set of sources, one minute: one record


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:32]


def answer_id(channel: str, answer: Answer, at: datetime, reply_id: str | None = None) -> str:
    """The record's id: of the reply (an SMS's MessageSid), else of the answer and its minute."""
    if reply_id:
        return _digest(channel, reply_id)
    sources = [str(chunk.get("id")) for chunk in answer.sources]
    return _digest(channel, answer.text, sources, int(at.timestamp() // SAME_ANSWER_SECONDS))


def answer_record(channel: str, answer: Answer, at: datetime, identifier: str) -> dict[str, Any]:
    """What is kept of an answer (see the module doc): nothing of who asked, or what."""
    if channel not in CHANNELS:
        raise ValueError(f"the channel must be one of {', '.join(CHANNELS)}")
    if answer.result is None:
        raise ValueError("only an answer with a text is kept")
    texts = {str(hit.get("id")): str(hit.get("text") or "") for hit in answer.sources}
    return {
        "id": identifier,
        "channel": channel,
        "kind": answer.kind,
        "model": answer.result.model,
        "answered_at": at.astimezone(UTC).isoformat(timespec="seconds"),
        "answer": answer.text,
        "sources": [
            {**found, "text": texts.get(found["chunk_id"], "")} for found in citations(answer)
        ],
    }


class AnswerLog:
    """Keeps answers under `_answers/` of `store`, off the caller's thread (see the module doc)."""

    def __init__(self, store: ObjectStore, *, max_pending: int = MAX_PENDING) -> None:
        self.records = JsonRecords(store, ANSWERS_PREFIX)
        self._slots = threading.BoundedSemaphore(max_pending)
        self._pool = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="answer-log")

    def write(
        self, channel: str, answer: Answer, reply_id: str | None = None, at: datetime | None = None
    ) -> bool:
        """Keep the answer now (on this thread); False when it was kept already. Raises what
        the storage raises."""
        at = at or datetime.now(UTC)
        identifier = answer_id(channel, answer, at, reply_id)
        record = answer_record(channel, answer, at, identifier)
        try:
            self.records.create(f"{record['answered_at'][:10]}/{identifier}", record)
        except AlreadyExistsError:
            return False
        return True

    def record(self, channel: str, answer: Answer, reply_id: str | None = None) -> None:
        """Keep the answer, best-effort, without waiting for the storage; an answer without a
        text (no index, no hits) is nothing to keep."""
        if answer.result is None:
            return
        at = datetime.now(UTC)
        if not self._slots.acquire(blocking=False):
            log.warning("answer log: an answer (%s) not kept, the storage is behind", channel)
            return
        try:
            self._pool.submit(self._write, channel, answer, reply_id, at)
        except RuntimeError:  # the log is closed: the service is stopping
            self._slots.release()

    def _write(self, channel: str, answer: Answer, reply_id: str | None, at: datetime) -> None:
        try:
            self.write(channel, answer, reply_id, at)
        except Exception as error:
            log.warning("answer log: an answer (%s) not kept (%s)", channel, type(error).__name__)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def day_records(store: ObjectStore, day: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The answers kept for `day` (oldest first), and the keys of the records that are not one
    (garbage: named, never quoted, and left out)."""
    records = JsonRecords(store, ANSWERS_PREFIX)
    found, unreadable = [], []
    for name in records.names(day):
        try:
            record = records.get(name)
        except (ValueError, UnicodeDecodeError):
            record = None
        if _is_answer(record):
            found.append(record)
        else:
            unreadable.append(records.key(name))
    found.sort(key=lambda record: (str(record["answered_at"]), str(record["id"])))
    return found, unreadable


def _is_answer(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and record.get("channel") in CHANNELS
        and isinstance(record.get("answer"), str)
        and isinstance(record.get("sources"), list)
        and all(isinstance(source, dict) for source in record["sources"])
        and isinstance(record.get("id"), str)
        and isinstance(record.get("answered_at"), str)
    )
