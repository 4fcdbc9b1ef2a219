"""A local stand-in for Twilio's Messages API, speaking what the twilio SDK speaks.

* `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (form fields To, From or
  MessagingServiceSid, Body, MediaUrl, StatusCallback; HTTP Basic auth with the account SID and
  auth token): 201 and the message's JSON, or Twilio's error JSON (`code`, `message`,
  `more_info`, `status`): 21211 for a number in `invalid`, 21610 for one in `unsubscribed`,
  HTTP 400 with the code given for a number in `refused` (e.g. 21408, the region not enabled;
  its message quotes the number, as Twilio's do).
* `GET` of the same path (To, From, PageSize filters): the account's messages, newest first, in
  Twilio's page shape.
* After a message is accepted, its status callbacks (`sent`, then `delivered`, or `undelivered`
  for a number in `undeliverable`) are POSTed to its StatusCallback, signed with the auth token
  as Twilio signs them (`X-Twilio-Signature`), when `send_callbacks()` is called.

Faults are scripted with `fail_next(*replies)`; every request is kept in `requests`.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply, Request

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-auth-token-double-0123"
FROM_NUMBER = "+15005550006"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def twilio_error(status: int, code: int, message: str, **headers: str) -> Reply:
    return Reply.json(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
        **headers,
    )


def rate_limited() -> Reply:
    return twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "0"})


def server_error() -> Reply:
    return twilio_error(500, 20500, "Internal Server Error")


class TwilioDouble(LocalHTTPServer):
    def __init__(self) -> None:
        super().__init__(self._handle)
        self.messages: list[dict[str, Any]] = []
        self.invalid: set[str] = set()
        self.unsubscribed: set[str] = set()
        self.undeliverable: set[str] = set()
        self.refused: dict[str, int] = {}  # number -> the code of Twilio's 400
        self.callbacks: list[requests.Response] = []
        self._faults: list[Reply] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def fail_next(self, *replies: Reply) -> None:
        self._faults.extend(replies)

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path == MESSAGES]

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message["to"] == number]

    # -- serving --------------------------------------------------------------------------

    def _handle(self, request: Request) -> Reply:
        if request.path != MESSAGES:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        if not self._authorised(request):
            return twilio_error(401, 20003, "Authenticate")
        with self._lock:
            if self._faults:
                return self._faults.pop(0)
        if request.method == "GET":
            return self._list(request)
        return self._create(request)

    def _authorised(self, request: Request) -> bool:
        import base64

        header = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return header == f"Basic {expected}"

    def _create(self, request: Request) -> Reply:
        form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        to = (form.get("To") or [""])[0]
        body = (form.get("Body") or [""])[0]
        sender = (form.get("From") or [None])[0]
        service = (form.get("MessagingServiceSid") or [None])[0]
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' is required")
        if to in self.invalid or not to.startswith("+"):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.unsubscribed:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        if to in self.refused:
            return twilio_error(
                400,
                self.refused[to],
                f"Permission to send an SMS has not been enabled for the region indicated by "
                f"the 'To' number: {to}.",
            )
        if len(body) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds 1600 chars")
        now = datetime.now(UTC)
        with self._lock:
            sid = f"SM{next(self._numbers):032x}"
            message = {
                "account_sid": ACCOUNT_SID,
                "api_version": "2010-04-01",
                "body": body,
                "date_created": format_datetime(now),
                "date_sent": None,
                "date_updated": format_datetime(now),
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": sender,
                "messaging_service_sid": service,
                "num_media": str(len(form.get("MediaUrl") or [])),
                "num_segments": str(max(1, -(-len(body) // 153))),
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "accepted" if service else "queued",
                "subresource_uris": {"media": f"{MESSAGES[:-5]}/{sid}/Media.json"},
                "to": to,
                "uri": f"{MESSAGES[:-5]}/{sid}.json",
                "_media_urls": form.get("MediaUrl") or [],
                "_status_callback": (form.get("StatusCallback") or [None])[0],
            }
            self.messages.append(message)
        public = {k: v for k, v in message.items() if not k.startswith("_")}
        return Reply.json(public, status=201)

    def _list(self, request: Request) -> Reply:
        to = request.query.get("To")
        chosen = [m for m in reversed(self.messages) if to is None or m["to"] == to]
        size = int(request.query.get("PageSize", 50))
        page = [{k: v for k, v in m.items() if not k.startswith("_")} for m in chosen[:size]]
        return Reply.json(
            {
                "messages": page,
                "end": len(page) - 1,
                "first_page_uri": f"{MESSAGES}?PageSize={size}&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{MESSAGES}?PageSize={size}&Page=0",
            }
        )

    # -- status callbacks -----------------------------------------------------------------

    def send_callbacks(self, reach: str | None = None) -> list[int]:
        """POST every message's callbacks (`sent`, then `delivered` or `undelivered`), signed
        over its StatusCallback URL as Twilio signs them; the HTTP statuses the receiver
        answered. `reach` replaces the callback's origin for the connection only, as a proxy
        in front of the receiver does (the signature stays over the public URL)."""
        from twilio.request_validator import RequestValidator

        validator = RequestValidator(AUTH_TOKEN)
        answered = []
        for message in list(self.messages):
            url = message["_status_callback"]
            if not url:
                continue
            final = "undelivered" if message["to"] in self.undeliverable else "delivered"
            for status in ("sent", final):
                params = {
                    "AccountSid": ACCOUNT_SID,
                    "ApiVersion": "2010-04-01",
                    "From": message["from"] or FROM_NUMBER,
                    "MessageSid": message["sid"],
                    "MessageStatus": status,
                    "SmsSid": message["sid"],
                    "SmsStatus": status,
                    "To": message["to"],
                    **({"ErrorCode": "30003"} if status == "undelivered" else {}),
                }
                signature = validator.compute_signature(url, params)
                target = url
                if reach:
                    parts = urlsplit(url)
                    target = (
                        reach.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
                    )
                response = requests.post(
                    target, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
                )
                self.callbacks.append(response)
                answered.append(response.status_code)
        return answered
