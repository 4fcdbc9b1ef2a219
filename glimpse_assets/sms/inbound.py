"""Answering a text message: HELP, START and STOP, or a question answered from the search index.

`InboundSms.answer(params, received)` (for the route, asynchronous) and `InboundSms.reply` (the
blocking work) take the webhook's form parameters (already checked to be signed by Twilio, for
our account, with a well-formed MessageSid: `sms.webhook`) and return the `Reply` to send back
as TwiML. `answer` runs `reply` on the SMS routes' own threads (`SMS_WORKERS`, see
`sms.deadline`) and waits for it on the event loop until the reply deadline, whatever holds it
(a stalled storage, a burst larger than the pool): past it, a reply that asks to send the text
again goes, and the work goes on (a STOP still being written is kept if the storage then
answers). In order:

1. **Retries.** Twilio may post a message again with the same `MessageSid`. The reply to a sid is
   claimed (create-if-absent) at `_sms/replies/<MessageSid>.json` before it is made and stored
   there once made, so a retry gets the same reply and causes no second model call: in this
   process (a retry that arrives while the first post is being answered waits for it) and in
   another one on the same storage (it waits for the stored reply while the claim is fresh,
   `CLAIM_SECONDS`). The record holds our reply, the kind of reply and the sender's person id;
   never the number or the message. These records are removed after 7 days (`sms.retention`).
2. **Keywords** (Twilio's own): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT stop the daily
   glimpse (`SmsRecords.set_subscriber(..., "stopped", "STOP", sid)`, which the outbound digest
   follows); START, YES, UNSTOP subscribe; HELP, INFO say what the number does. Case and
   surrounding spaces or punctuation do not matter; keywords are never rate limited.
   **Replays.** A signed post can be captured and posted again at any time, also after its
   reply record is gone: Twilio's signature covers no time, and neither the post nor its SID
   tells when the message was sent, so "older than the retention window" cannot be seen in a
   post. What a replay could change is a subscription, so the subscriber record keeps the SIDs
   of the keywords applied to it, as long as the record lives (a handful per person): a START
   or STOP seen before changes nothing, whenever it comes back. A replayed question older than
   7 days is answered again, to whoever posted it (TwiML goes back in the HTTP answer; nothing
   is sent to anyone), within the sender's rate limit, and changes nothing stored; keeping
   every message's SID for good would bring back the one-object-a-message growth that the
   retention rule removes.
   Without a usable salt (`_sms/salt.json` garbage, its copy too) no person id can be made:
   questions and HELP are answered (under an id of this process's own), START and STOP get a
   reply asking to send them again later, and the log names the key.
3. **The rate limit**: `GLIMPSE_SMS_RATE_LIMIT_PER_HOUR` questions per sender in any hour
   (`conversation.SenderLimit`); past it, a polite reply and no search or model call.
4. **The answer** (`sms.answering.Answerer`, the code `GET /ask` answers with too): the top
   hits of the search index for the question (for a follow-up, for it with the previous
   question when those match better, and the article of the previous answer), found by the
   deadline (else a reply asking to send it again); then the text provider's answer
   (`sms.answers.answer_request`) with the sender's last exchanges
   (`conversation.ConversationMemory`), waited for until the reply deadline
   (`GLIMPSE_SMS_REPLY_SECONDS` after the post arrived, less a margin): a slower or failed model
   call (a budget stop included) is replaced by the extractive answer from the best hit, and the
   call is left to finish (its answer cached in this process's memory, never stored: see
   `sms.answering`). No index yet, or nothing found: a polite reply. An answer given is kept
   once, by its MessageSid, in the answer log (`sms.answer_log`: its text and sources, never
   the message or the sender), without waiting for the storage.

Nothing here logs a number or a message: a sender is its person id, a message its length.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from glimpse_assets.providers.base import TextProvider
from glimpse_assets.sms.answer_log import SMS as SMS_CHANNEL
from glimpse_assets.sms.answer_log import AnswerLog
from glimpse_assets.sms.answering import (
    NO_HITS,
    NO_INDEX,
    SEARCH_TOO_SLOW,
    Answerer,
    Searcher,
)
from glimpse_assets.sms.answering import (  # where they were: the service and tests use them
    without_stored_questions as without_stored_questions,
)
from glimpse_assets.sms.conversation import ConversationMemory, SenderLimit
from glimpse_assets.sms.deadline import ThreadWaiter
from glimpse_assets.sms.records import (
    STOPPED,
    SUBSCRIBED,
    BadRecordError,
    SmsRecords,
    is_message_sid,
    now_iso,
)
from glimpse_assets.sms.webhook import WebhookError
from glimpse_assets.storage.object_store import (
    AlreadyExistsError,
    ObjectChangedError,
    StorageError,
)

# uvicorn prints its "uvicorn.error" logger (its general log) at INFO: these lines go with it.
log = logging.getLogger("uvicorn.error.sms")

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

HELP_REPLY = (
    "Glimpse: ask a question about the day's news and get a short answer from the indexed "
    "articles, with the title and date. Reply START for the daily glimpse, STOP to end it."
)
START_REPLY = (
    "Glimpse: you will get the daily glimpse by text. Reply STOP to end it, HELP for help."
)
STOP_REPLY = "Glimpse: you will get no more daily glimpses. Reply START to get them again."
EMPTY_REPLY = "Glimpse: send a question about the news, or HELP."
NO_INDEX_REPLY = (
    "Glimpse: sorry, no news has been indexed yet, so I cannot answer questions. "
    "Please try again later."
)
NO_HITS_REPLY = "Glimpse: sorry, I found nothing in the indexed news about that."
RATE_LIMITED_REPLY = (
    "Glimpse: you have asked {limit} questions in the last hour, the most I can answer. "
    "Please try again in a little while."
)
BUSY_REPLY = "Glimpse: sorry, I could not answer in time. Please send your question again."
LATE_KEYWORD_REPLY = (
    "Glimpse: sorry, I could not confirm that in time. Please send {word} again in a few minutes."
)
UNRECORDED_KEYWORD_REPLY = (
    "Glimpse: sorry, I cannot record that right now. Please send {word} again later."
)
FAILED_REPLY = "Glimpse: sorry, something went wrong while answering. Please try again later."

MAX_QUESTION_CHARS = 1600  # a long message's length (10 segments); the rest is not read
# Of the deadline, kept for the reply to be stored and sent: 1 s of 10, 0.3 s of 2.
REPLY_MARGIN_SECONDS, REPLY_MARGIN_SHARE = 1.0, 0.15
CLAIM_SECONDS = 60.0  # a claim older than this is from a process that died answering
SMS_WORKERS = 64  # texts worked on at once (on threads of their own); more wait, until the deadline
RECENT_REPLIES = 1000
REPLIES = "replies"


@dataclass(frozen=True)
class Reply:
    text: str
    kind: str  # help, start, stop, empty, rate limited, no index, no hits, answer, extractive...
    method: str = ""


def keyword(body: str) -> str | None:
    """`stop`, `start` or `help` when the whole message is one of Twilio's keywords."""
    word = body.strip().strip(".!?,;:'\"").strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


# -- answering ------------------------------------------------------------------------------


class InboundSms:
    def __init__(
        self,
        records: SmsRecords,
        search: Searcher,
        provider: TextProvider,
        *,
        per_hour: int = 10,
        reply_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        answer_log: AnswerLog | None = None,
    ) -> None:
        self.records = records
        self.answerer = Answerer(search, provider, clock=clock, name="sms")
        # Each answer given, kept once (by MessageSid) with its sources, never the message.
        self.answer_log = answer_log or AnswerLog(records.records.store)
        self.reply_seconds = reply_seconds
        self.memory = ConversationMemory(clock=clock)
        self.limit = SenderLimit(per_hour, clock=clock)
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight: dict[str, Future] = {}
        self._recent: OrderedDict[str, Reply] = OrderedDict()
        self._workers = ThreadWaiter(SMS_WORKERS, "sms-text")
        self._local_salt = secrets.token_bytes(32)

    @property
    def search(self) -> Searcher:
        return self.answerer.search

    @search.setter
    def search(self, search: Searcher) -> None:
        self.answerer.search = search

    def warm_up(self) -> None:
        """Load now what the first message would wait for (seconds of its deadline)."""
        self.answerer.warm_up()

    def close(self) -> None:
        self.answerer.close()
        self._workers.close()
        self.answer_log.close()

    # -- one message ----------------------------------------------------------------------

    def _margin(self) -> float:
        return min(REPLY_MARGIN_SECONDS, REPLY_MARGIN_SHARE * self.reply_seconds)

    async def answer(self, params: Mapping[str, str], received: float) -> Reply:
        """The reply to one signed webhook post, by the reply deadline whatever holds the work
        up (see the module doc); never raises but `WebhookError`."""
        sid = _checked_sid(params)
        # The work aims at the deadline less the margin; this wait ends halfway into it.
        seconds = received + self.reply_seconds - self._margin() / 2 - self._clock()
        try:
            return await self._workers.run(seconds, self.reply, params, received)
        except TimeoutError:
            late = _late_reply(str(params.get("Body") or ""))
            log.warning("sms inbound %s: %s reply, the work not done in time", sid, late.kind)
            return late
        except WebhookError:
            raise
        except Exception as error:  # never the message: an error's text may quote it
            log.error("sms inbound %s failed: %s", sid, type(error).__name__)
            return Reply(FAILED_REPLY, "failed")

    def reply(self, params: Mapping[str, str], received: float | None = None) -> Reply:
        """The reply to one signed webhook post (`params`: all its form parameters)."""
        received = self._clock() if received is None else received
        text = _Text(
            sid=_checked_sid(params),
            number=str(params.get("From") or ""),
            body=str(params.get("Body") or ""),
            deadline=received + self.reply_seconds - self._margin(),
        )
        if self._clock() >= text.deadline and keyword(text.body) is None:
            reply = Reply(BUSY_REPLY, "busy (waited past the deadline)")  # touch nothing
        else:
            self._identify(text)
            reply = self._once(text)
        log.info(
            "sms inbound %s from %s: %d characters in, %s reply of %d characters in %.2f s",
            text.sid,
            text.person,
            len(text.body),
            reply.kind,
            len(reply.text),
            self._clock() - received,
        )
        return reply

    def _identify(self, text: _Text) -> None:
        """The sender's person id; without a usable salt, one of this process's own."""
        try:
            text.person = self.records.person_id(text.number)
            text.identified = True
        except Exception as error:
            why = str(error) if isinstance(error, BadRecordError) else type(error).__name__
            log.error("sms inbound %s: no person id, keywords not recorded: %s", text.sid, why)
            digest = hmac.new(self._local_salt, text.number.encode(), hashlib.sha256)
            text.person = f"t-{digest.hexdigest()[:20]}"

    def _once(self, text: _Text) -> Reply:
        sid = text.sid
        with self._lock:
            recent = self._recent.get(sid)
            if recent is not None:
                return recent
            waiting = self._in_flight.get(sid)
            if waiting is None:
                future: Future = Future()
                self._in_flight[sid] = future
        if waiting is not None:  # the same message is being answered: its reply is ours
            try:
                return waiting.result(timeout=max(text.deadline - self._clock(), 0.1))
            except FutureTimeout:
                return Reply(BUSY_REPLY, "busy")
        try:
            reply = self._claimed(text)
            if not reply.kind.startswith(("busy", "failed")):
                with self._lock:
                    self._recent[sid] = reply
                    while len(self._recent) > RECENT_REPLIES:
                        self._recent.popitem(last=False)
            future.set_result(reply)
            return reply
        except BaseException as error:
            future.set_exception(error)
            raise
        finally:
            with self._lock:
                self._in_flight.pop(sid, None)

    def _claimed(self, text: _Text) -> Reply:
        """The stored reply to the text's sid, or a new one made under this process's claim. A
        garbage record is taken over like the claim of a process that died."""
        name = f"{REPLIES}/{text.sid}"
        claim = {
            "sid": text.sid,
            "person": text.person,
            "state": "answering",
            "claimed_at": now_iso(),
        }
        etag = None
        try:
            while etag is None:
                with contextlib.suppress(AlreadyExistsError):
                    etag = self.records.records.create(name, claim)
                    break
                stored = self.records.read(name)
                record = stored.record
                if stored.etag is None:
                    continue  # gone in between: claim again
                answered = (record or {}).get("state") == "answered"
                if answered and isinstance(record.get("reply"), str):
                    return Reply(record["reply"], str(record.get("kind") or "stored"), "stored")
                if answered or record is None or _age(record.get("claimed_at")) > CLAIM_SECONDS:
                    with contextlib.suppress(ObjectChangedError):
                        etag = self.records.write(name, claim, stored.etag)
                    continue
                if self._clock() >= text.deadline:
                    # Still being answered elsewhere: answer without the model, unstored.
                    return self._answer(text, model=False)
                time.sleep(0.05)
        except StorageError as error:
            log.warning("sms inbound %s: replies not readable (%s)", text.sid, type(error).__name__)
            return self._answer(text)
        reply = self._answer(text)
        record = {**claim, "state": "answered", "kind": reply.kind, "reply": reply.text}
        try:
            if reply.kind.startswith(("busy", "failed")):  # a retry may do better: unclaimed
                self.records.delete(name)
            else:
                self.records.write(name, {**record, "answered_at": now_iso()}, etag)
        except (StorageError, ObjectChangedError) as error:
            log.warning("sms inbound %s: reply not stored (%s)", text.sid, type(error).__name__)
        return reply

    def _keyword(self, text: _Text, word: str) -> Reply:
        """START or STOP, applied once per MessageSid (a replay changes nothing)."""
        status, reply = (STOPPED, STOP_REPLY) if word == "stop" else (SUBSCRIBED, START_REPLY)
        if not text.identified:
            return Reply(UNRECORDED_KEYWORD_REPLY.format(word=word.upper()), f"{word} (unrecorded)")
        if not self.records.set_subscriber(text.number, status, word.upper(), text.sid):
            return Reply(reply, f"{word} (seen before: not applied again)")
        if word == "stop":
            self.memory.forget(text.person)
        return Reply(reply, word)

    def _answer(self, text: _Text, model: bool = True) -> Reply:
        person = text.person
        try:
            word = keyword(text.body)
            if word in ("stop", "start"):
                return self._keyword(text, word)
            if word == "help":
                return Reply(HELP_REPLY, "help")
            question = " ".join(text.body.split())[:MAX_QUESTION_CHARS]
            if not question:
                return Reply(EMPTY_REPLY, "empty")
            if not self.limit.take(person):
                return Reply(RATE_LIMITED_REPLY.format(limit=self.limit.per_hour), "rate limited")
            return self._question(person, question, text.deadline, model, text.sid)
        except Exception as error:  # never the message: an error's text may quote it
            log.error("sms inbound from %s failed: %s", person, type(error).__name__)
            return Reply(FAILED_REPLY, "failed")

    def _question(
        self, person: str, question: str, deadline: float, model: bool, sid: str = ""
    ) -> Reply:
        history = self.memory.history(person)
        answer = self.answerer.answer(
            question, deadline, history=history, model=model, who=f"sms from {person}"
        )
        if answer.kind == SEARCH_TOO_SLOW:
            return Reply(BUSY_REPLY, answer.kind)
        if answer.kind == NO_INDEX:
            return Reply(NO_INDEX_REPLY, answer.kind)
        if answer.kind == NO_HITS or answer.result is None:
            return Reply(NO_HITS_REPLY, NO_HITS)
        self.memory.remember(person, question, answer.text, answer.chunks[0])
        self.answer_log.record(SMS_CHANNEL, answer, reply_id=sid or None)
        return Reply(answer.text, answer.kind, answer.result.method)


def _age(stamp: Any) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(str(stamp))).total_seconds()
    except ValueError:
        return float("inf")


@dataclass
class _Text:
    """One text being answered (the number and body never leave this process)."""

    sid: str
    number: str
    body: str
    deadline: float
    person: str = "unknown"
    identified: bool = False


def _checked_sid(params: Mapping[str, str]) -> str:
    """The MessageSid, which names a stored record: the route checked it (`sms.webhook`); this
    is the same rule again, for any other caller."""
    sid = params.get("MessageSid")
    if not is_message_sid(sid):
        raise WebhookError(400, "MessageSid is missing or not a Twilio message SID")
    return str(sid)


def _late_reply(body: str) -> Reply:
    """What goes when the work is not done by the deadline: START and STOP were perhaps not
    recorded, so the sender is asked to send them again (a repeat changes nothing)."""
    word = keyword(body)
    if word in ("stop", "start"):
        return Reply(LATE_KEYWORD_REPLY.format(word=word.upper()), f"{word} (not confirmed)")
    return Reply(BUSY_REPLY, "busy (past the deadline)")
