"""The daily glimpse to one subscriber, once: a publisher for `publish_once` per person and day.

The ledger record is `_ledger/sms/<person id>/<day>.json` and the claim comes before any call to
Twilio (see `storage.exactly_once`). A crash after Twilio accepted the message but before the
ledger said so leaves the record `pending`; the next attempt asks Twilio (`reconcile`): it lists
the messages sent to the number since the attempt began and looks for one with the same body.
Found: recorded as sent, nothing sent again. Not found: sent now. Twilio cannot be asked (the
list call fails): the step stops and says so rather than risk a second text.

What a refusal by Twilio means (HTTP 4xx: the message was not created, nothing was sent):

* 21610 (the person texted STOP to Twilio's number) and 21211/21614 (not a number that takes
  texts) are final (`RecipientRefusedError`): recorded on the subscriber, never retried, and
  that person is left out from then on.
* 401/403 or 20003 (the account's credentials) concern everyone (`AccountRefusedError`).
* Any other 4xx, such as 21408 (sending to that region is not enabled on the account), concerns
  this number (`NumberRefusedError`): its cause is usually on our side and fixable (enable the
  region, fix the sender), so the ledger says `not sent` and a re-run of the day tries it again,
  once a run; the others are unaffected.

429 and 5xx were already retried once by the client (`twilio_client`); still failing, the text
stays pending and the next attempt reconciles it (it may have been accepted).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from glimpse_assets.publish.publishers import (
    NothingSentError,
    PublishError,
    PublishRejectedError,
    RefusedBeforeSendingError,
)
from glimpse_assets.sms.records import INVALID, UNSUBSCRIBED

MAX_BODY_CHARS = 1600  # Twilio's limit for one message's body
UNSUBSCRIBED_CODES = {21610}
INVALID_CODES = {21211, 21614}


@dataclass(frozen=True)
class SmsPost:
    """What `publish_once` needs of a post: the day and its text (the caption)."""

    day: str
    caption: str
    media_url: str | None = None


class RecipientRefusedError(NothingSentError):
    """Twilio will never deliver to this person (21610, 21211, 21614): nothing was sent."""

    def __init__(self, code: int, status: str, description: str) -> None:
        super().__init__(description)
        self.code, self.status = code, status


class NumberRefusedError(NothingSentError):
    """Twilio refused this number's text with a code that is not final (e.g. 21408): nothing
    was sent, and a re-run tries it again."""

    def __init__(self, code: Any, description: str) -> None:
        super().__init__(description)
        self.code = code


class AccountRefusedError(RefusedBeforeSendingError):
    """Twilio refused the account's credentials: no text can go to anyone."""


def check_post(post: SmsPost) -> None:
    """Raise before any outside call when the text cannot go as it is (the same for all)."""
    if not post.caption.strip():
        raise PublishRejectedError(f"the text for {post.day} is empty")
    if len(post.caption) > MAX_BODY_CHARS:
        raise PublishRejectedError(
            f"the text for {post.day} has {len(post.caption)} characters; Twilio takes "
            f"{MAX_BODY_CHARS}"
        )


def body_digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def digest_body(caption: str, limit: int = MAX_BODY_CHARS) -> str:
    """The caption as one message body: at most `limit` characters, cut at a word with "…"."""
    text = caption.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(None, 1)[0]
    return cut.rstrip(" ,;:") + "…"


class SmsDelivery:
    """One person's daily text through Twilio (`client`: twilio.rest.Client)."""

    def __init__(
        self,
        client: Any,
        number: str,
        person: str,
        from_number: str | None,
        messaging_service_sid: str | None,
        status_callback: str | None,
    ) -> None:
        self.client = client
        self.number = number
        self.person = person
        self.sender = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number}
        )
        self.status_callback = status_callback

    def __repr__(self) -> str:  # never the number
        return f"SmsDelivery({self.person})"

    @property
    def kind(self) -> str:
        return f"sms/{self.person}"

    def validate(self, post: SmsPost) -> None:
        check_post(post)

    def start(self, post: SmsPost) -> dict[str, Any]:
        return {
            "attempt": uuid.uuid4().hex[:12],
            "started_at": time.time(),
            "body_sha256": body_digest(post.caption),
        }

    def finish(self, post: SmsPost, state: dict[str, Any]) -> dict[str, Any]:
        from twilio.base.exceptions import TwilioRestException

        options: dict[str, Any] = {"to": self.number, "body": post.caption, **self.sender}
        if post.media_url:
            options["media_url"] = [post.media_url]
        if self.status_callback:
            options["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as error:
            raise self._refusal(error) from None
        return {
            "sid": message.sid,
            "status": str(message.status),
            "kind": "mms" if post.media_url else "sms",
            "characters": len(post.caption),
        }

    def _refusal(self, error: Any) -> Exception:
        """What a Twilio error means for this person, in words without their number."""
        code = getattr(error, "code", None)
        status = getattr(error, "status", None)
        what = f"Twilio refused the text to {self.person}: HTTP {status}, code {code}"
        if code in UNSUBSCRIBED_CODES:
            return RecipientRefusedError(code, UNSUBSCRIBED, f"{what} (unsubscribed)")
        if code in INVALID_CODES:
            return RecipientRefusedError(code, INVALID, f"{what} (not a number that takes texts)")
        if status == 429 or (isinstance(status, int) and status >= 500):
            return PublishError(f"{what}; still failing after a retry")
        if status in (401, 403) or code == 20003:
            return AccountRefusedError(f"{what}: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if isinstance(status, int) and 400 <= status < 500:
            return NumberRefusedError(code, what)
        return PublishRejectedError(what)

    def reconcile(self, state: dict[str, Any]) -> str:
        """Whether the earlier attempt's text went out: "published" or "restart" (nothing with
        this body was sent to the number since the attempt began), "unknown" if Twilio cannot be
        asked."""
        started = state.get("started_at")
        wanted = state.get("body_sha256")
        if not started or not wanted:
            return "restart"  # the attempt stopped before it could send
        try:
            # Newest first, and not filtered on DateSent: a message still queued has none.
            sent = self.client.messages.list(to=self.number, limit=100)
        except Exception:
            return "unknown"
        for message in sent:
            created = getattr(message, "date_created", None)
            if created is not None and created.timestamp() < float(started) - 60:
                continue
            if body_digest(message.body or "") == wanted:
                return "published"
        return "restart"
