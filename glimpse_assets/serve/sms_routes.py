"""Twilio's webhooks: `POST /sms/inbound` (a text message, answered in TwiML) and
`POST /sms/status` (a sent message's delivery status). Mounted only with `GLIMPSE_SMS=on`.

These routes take no API key: Twilio signs each post, and the signature is the check. It is
twilio's own `RequestValidator` over `GLIMPSE_PUBLIC_URL` + the path (+ the query string) and
every form parameter received, unknown ones included (Twilio adds parameters over time; dropping
one would break every signature). A post without `X-Twilio-Signature` gets 403 before its body is
read; a body over `MAX_SMS_BODY_BYTES` gets 413 (read no further); a signature that does not
match gets 403. Errors never repeat what was sent.

A signed post must then be a message of our own account: a well-formed MessageSid and
`AccountSid` equal to `TWILIO_ACCOUNT_SID` (`sms.webhook`; else 400, or 403 for another
account), on both routes, so that no re-split of a captured post loses its SID and no SID names
a record outside its folder.

Neither route holds one of the threads the other routes share while it waits: the work runs
on the SMS routes' own threads and is awaited on the event loop (`sms.deadline`). A text is
answered within `GLIMPSE_SMS_REPLY_SECONDS` whatever the storage or the model do; a status that
cannot be stored within as long gets 503.

`GLIMPSE_PUBLIC_URL` is where Twilio reaches the service (a proxy's or tunnel's address):
Twilio signs the URL it posts to, so it must be exactly what the number's webhook is set to,
less the path. Signatures made with a webhook SharedKey (`X-Twilio-Webhooks-Signature-Settings`)
are not supported: the account's auth token is the key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response

from glimpse_assets.serve.errors import ErrorDetail

log = logging.getLogger("uvicorn.error.sms")

MAX_SMS_BODY_BYTES = 64 * 1024
SIGNATURE_HEADER = "X-Twilio-Signature"
NO_SIGNATURE = f"no {SIGNATURE_HEADER} header: only Twilio's signed webhooks are taken"
BAD_SIGNATURE = "the Twilio signature does not match this request"
TOO_LARGE = f"the request body is over {MAX_SMS_BODY_BYTES} bytes"
STATUS_WORKERS = 8
NOT_STORED = "the delivery status could not be stored in time; the storage is not answering"

SIGNED_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "No well-formed MessageSid or AccountSid"},
    403: {
        "model": ErrorDetail,
        "description": f"No `{SIGNATURE_HEADER}`, or a wrong one, or another account's post",
    },
    413: {"model": ErrorDetail, "description": f"A body over {MAX_SMS_BODY_BYTES} bytes"},
}


class FormParameters:
    """The form's parameters as received, every value of every name (for the validator,
    through `getlist`, as it reads Django's QueryDict)."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def __iter__(self):
        return iter(self._values)

    def getlist(self, name: str) -> list[str]:
        return self._values[name]

    def last(self) -> dict[str, str]:
        return {name: values[-1] for name, values in self._values.items()}


class TwilioSignature:
    def __init__(self, auth_token: str, public_url: str):
        from twilio.request_validator import RequestValidator

        self._validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")

    def url(self, request: Request) -> str:
        query = request.scope.get("query_string", b"").decode("latin-1")
        return self.public_url + request.url.path + (f"?{query}" if query else "")

    async def parameters(self, request: Request) -> dict[str, str]:
        """The signed post's form parameters, or the 403/413."""
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise HTTPException(status_code=403, detail=NO_SIGNATURE)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_SMS_BODY_BYTES:
            raise HTTPException(status_code=413, detail=TOO_LARGE, headers={"Connection": "close"})
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > MAX_SMS_BODY_BYTES:
                raise HTTPException(
                    status_code=413, detail=TOO_LARGE, headers={"Connection": "close"}
                )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(status_code=403, detail=BAD_SIGNATURE) from None
        form = FormParameters(parse_qsl(text, keep_blank_values=True))
        if not self._validator.validate(self.url(request), form, signature):
            raise HTTPException(status_code=403, detail=BAD_SIGNATURE)
        return form.last()


def sms_routers(env: Mapping[str, str], search: Any) -> list[APIRouter]:
    """The webhook routes when `GLIMPSE_SMS=on` (else none). Raises `ConfigurationError` when
    the channel is on without `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN` or
    `GLIMPSE_PUBLIC_URL`, or with an account SID that is not one."""
    from glimpse_assets.settings import ConfigurationError
    from glimpse_assets.sms.settings import SmsSettings
    from glimpse_assets.sms.webhook import is_account_sid

    settings = SmsSettings.from_env(env)
    if not settings.enabled:
        return []
    missing = [
        name
        for name, present in (
            ("TWILIO_ACCOUNT_SID", settings.account_sid_set),
            ("TWILIO_AUTH_TOKEN", settings.auth_token_set),
            ("GLIMPSE_PUBLIC_URL", bool(settings.public_url)),
        )
        if not present
    ]
    if missing:
        raise ConfigurationError(
            f"GLIMPSE_SMS=on needs {' and '.join(missing)}: Twilio's webhooks are checked with "
            "the account's SID and auth token over the public URL Twilio posts to "
            "(e.g. GLIMPSE_PUBLIC_URL=https://glimpse.example.com)"
        )
    account_sid = env["TWILIO_ACCOUNT_SID"].strip()
    if not is_account_sid(account_sid):
        raise ConfigurationError(
            "TWILIO_ACCOUNT_SID is not a Twilio account SID (AC and 32 hex characters)"
        )

    from glimpse_assets.resources import shared_resources
    from glimpse_assets.sms.inbound import InboundSms, without_stored_questions
    from glimpse_assets.sms.records import SmsRecords
    from glimpse_assets.sms.retention import start_daily

    shared = shared_resources(env)
    records = SmsRecords(shared.object_store.store)
    inbound = InboundSms(
        records,
        search,
        without_stored_questions(shared.text_provider),
        per_hour=settings.inbound_per_hour,
        reply_seconds=settings.reply_seconds,
    )
    signature = TwilioSignature(env["TWILIO_AUTH_TOKEN"], settings.public_url)
    inbound.warm_up()  # before the service says it is up: the first message waits for nothing
    start_daily(records)  # the retention of _sms/replies/ and _sms/status/
    return [sms_router(signature, inbound, records, account_sid)]


def sms_router(
    signature: TwilioSignature, inbound: Any, records: Any, account_sid: str
) -> APIRouter:
    from glimpse_assets.sms.deadline import ThreadWaiter
    from glimpse_assets.sms.webhook import WebhookError, delivery_status, message_sid

    router = APIRouter(tags=["sms"])
    statuses = ThreadWaiter(STATUS_WORKERS, "sms-status")

    @router.post(
        "/sms/inbound",
        summary="A text message from Twilio, answered in TwiML (signed by Twilio, no API key)",
        response_class=Response,
        responses={
            200: {
                "content": {"application/xml": {}},
                "description": "`<Response><Message>` with the reply, at most 320 characters",
            },
            **SIGNED_RESPONSES,
        },
    )
    async def sms_inbound(request: Request) -> Response:
        from twilio.twiml.messaging_response import MessagingResponse

        received = time.monotonic()
        params = await signature.parameters(request)
        try:
            message_sid(params, account_sid)
            reply = await inbound.answer(params, received)
        except WebhookError as error:
            raise HTTPException(status_code=error.status, detail=str(error)) from None
        twiml = MessagingResponse()
        twiml.message(reply.text)
        return Response(str(twiml), media_type="application/xml")

    @router.post(
        "/sms/status",
        status_code=204,
        summary="A sent message's delivery status from Twilio (signed by Twilio, no API key)",
        response_class=Response,
        responses={
            **SIGNED_RESPONSES,
            503: {"model": ErrorDetail, "description": "The status could not be stored in time"},
        },
    )
    async def sms_status(request: Request) -> Response:
        params = await signature.parameters(request)
        try:
            sid, status, code = delivery_status(params, account_sid)
        except WebhookError as error:
            raise HTTPException(status_code=error.status, detail=str(error)) from None
        try:
            await statuses.run(inbound.reply_seconds, records.record_status, sid, status, code)
        except Exception as error:  # the storage stalled or failed: it may be taken later
            log.warning("sms status %s not stored: %s", sid, type(error).__name__)
            raise HTTPException(status_code=503, detail=NOT_STORED) from None
        return Response(status_code=204)

    return router
