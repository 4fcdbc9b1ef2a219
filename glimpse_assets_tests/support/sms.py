"""The SMS tests' shared setup: sms_digest run against the Twilio double (`channel`, `send`,
`stored`, the day's caption), and `glimpse serve` with SMS on for signed webhook posts
(`env_at`, its token and public URL, `reply_of`)."""

from __future__ import annotations

import json

import dagster as dg
import httpx

from glimpse_assets.partitions import daily_partitions
from glimpse_assets.sms.assets import sms_digest
from glimpse_assets.sms.checks import sms_checks
from glimpse_assets.sms.resources import SmsSenderResource
from glimpse_assets_tests.support.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

# -- sms_digest through the Twilio double ------------------------------------------------------

DAY = "2026-03-01"
SOCIAL_POST = dg.AssetSpec("social_post", partitions_def=daily_partitions)  # stored by news
CAPTION = "Solar bicycle lanes glow after dark in Fernwick. #glimpse #dailynews"


def channel(twilio, *subscribers: str, **options) -> SmsSenderResource:
    settings = {
        "enabled": True,
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": FROM_NUMBER,
        "api_url": twilio.url,
        "subscribers": ",".join(subscribers),
        "public_url": "https://glimpse.example",
    }
    return SmsSenderResource(**{**settings, **options})


def send(resources, sms_sender, *, checks=False, day=DAY) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [sms_digest, SOCIAL_POST, *(sms_checks if checks else [])],
        partition_key=day,
        resources={**resources, "sms_sender": sms_sender},
        raise_on_error=False,
    )


def stored(local_store) -> dict:
    return json.loads(local_store.store.get(f"sms_digest/{DAY}.json"))


# -- glimpse serve with SMS on, for signed webhook posts ---------------------------------------

KEY = "sms-checks-api-key-0123456789"
TOKEN = "twilio-checks-auth-token-0123456789"
PUBLIC_URL = "https://glimpse.example.org"
INBOUND, STATUS = "/sms/inbound", "/sms/status"


def env_at(root: str, **extra: str) -> dict[str, str]:
    return {
        "GLIMPSE_STORAGE_URI": root,
        "GLIMPSE_API_KEYS": KEY,
        "GLIMPSE_PROVIDER": "offline",
        "GLIMPSE_SMS": "on",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "GLIMPSE_PUBLIC_URL": PUBLIC_URL,
        **extra,
    }


def reply_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    start = response.text.index("<Message>") + len("<Message>")
    return response.text[start : response.text.index("</Message>")]
