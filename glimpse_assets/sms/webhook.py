"""What a signed Twilio webhook post must carry before anything is done with it.

Twilio's signature is an HMAC of the URL and the sorted parameter names and values concatenated,
with nothing between them. So a captured post can be re-split and still be signed: `FromZip`
can take `MessageSid` and its value into its own value, and the post then has no MessageSid. A
post without its message SID cannot be recognised again (a retry, a replay), so every post, to
`/sms/inbound` and to `/sms/status` alike, must have a well-formed `MessageSid` (SM or MM and 32
hex characters; `SmsSid` and `SmsMessageSid`, when sent, the same) and our own `AccountSid`.
The SID then names stored records (`_sms/replies/<sid>.json`, `_sms/status/<sid>.json`), which
its form keeps inside their folders. Errors name the parameter, never its value.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

from glimpse_assets.sms.records import STATUS_ORDER, is_message_sid

ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")
ERROR_CODE = re.compile(r"^\d{1,10}$")
SID_ALIASES = ("SmsSid", "SmsMessageSid")


class WebhookError(ValueError):
    """A signed post that is not one Glimpse takes: `status` is the HTTP answer (400, 403)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def is_account_sid(value: object) -> bool:
    return isinstance(value, str) and bool(ACCOUNT_SID.match(value))


def message_sid(params: Mapping[str, str], account_sid: str) -> str:
    """The post's MessageSid, once the post is for `account_sid` and its SIDs are well-formed;
    else `WebhookError`."""
    account = params.get("AccountSid")
    if not is_account_sid(account):
        raise WebhookError(400, "AccountSid is missing or not a Twilio account SID")
    if not hmac.compare_digest(account, account_sid):
        raise WebhookError(403, "AccountSid is not this service's account (TWILIO_ACCOUNT_SID)")
    sid = params.get("MessageSid")
    if not is_message_sid(sid):
        raise WebhookError(
            400, "MessageSid is missing or not a Twilio message SID (SM or MM, 32 hex characters)"
        )
    for alias in SID_ALIASES:
        if alias in params and params[alias] != sid:
            raise WebhookError(400, f"{alias} is not the same as MessageSid")
    return sid


def delivery_status(params: Mapping[str, str], account_sid: str) -> tuple[str, str, str | None]:
    """(MessageSid, MessageStatus, ErrorCode or None) of a status callback; else `WebhookError`."""
    sid = message_sid(params, account_sid)
    status = params.get("MessageStatus")
    if status not in STATUS_ORDER:
        raise WebhookError(400, "MessageStatus is missing or not one of Twilio's message statuses")
    code = params.get("ErrorCode") or None
    if code is not None and not ERROR_CODE.match(code):
        raise WebhookError(400, "ErrorCode is not a Twilio error code (digits)")
    return sid, status, code
