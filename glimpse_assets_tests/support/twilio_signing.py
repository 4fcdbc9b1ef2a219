"""Webhook posts as Twilio makes them: its full parameter set, signed with twilio's own
`RequestValidator(auth_token).compute_signature(url, params)`.

    params = inbound_params("+15551230001", "What opened on the roof?", sid=message_sid())
    headers = signed_headers(TOKEN, PUBLIC_URL + "/sms/inbound", params)
    client.post("/sms/inbound", data=params, headers=headers)

`ACCOUNT_SID` is the account the posts are for (the service's `TWILIO_ACCOUNT_SID`, and the
Twilio double's). The URL signed is the public one Twilio posts to (`GLIMPSE_PUBLIC_URL` +
path), not the local address the test reaches the service at, as behind a proxy or a tunnel.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from glimpse_assets_tests.support.twilio_double import ACCOUNT_SID  # AC + 32 hex, as Twilio's

MESSAGING_SERVICE_SID = "MG" + "1" * 30
OUR_NUMBER = "+15557650000"
_count = itertools.count(1)


def message_sid() -> str:
    """A fresh `SM` + 32 hex characters, as Twilio's message sids look."""
    return f"SM{next(_count):08x}{secrets.token_hex(12)}"


def inbound_params(number: str, body: str, sid: str | None = None, **extra: str) -> dict[str, str]:
    """Every parameter Twilio sends with an incoming SMS (its documented set), plus `extra`."""
    sid = sid or message_sid()
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": body,
        "FromCountry": "US",
        "To": OUR_NUMBER,
        "ToZip": "94107",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": number,
        "ApiVersion": "2010-04-01",
        "MessagingServiceSid": MESSAGING_SERVICE_SID,
        **extra,
    }


def status_params(sid: str, status: str, number: str, error_code: str = "") -> dict[str, str]:
    """A status callback's parameters for message `sid` sent to `number`."""
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": OUR_NUMBER,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": number,
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def signature(token: str, url: str, params: Mapping[str, str]) -> str:
    return RequestValidator(token).compute_signature(url, dict(params))


def signed_headers(token: str, url: str, params: Mapping[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": signature(token, url, params)}
