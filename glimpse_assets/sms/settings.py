"""The sms domain's settings: whether the channel is on, Twilio's account and sender, who gets
the daily glimpse, and the inbound webhook's public address and limits.

`TWILIO_ACCOUNT_SID` and `TWILIO_AUTH_TOKEN` are secrets (read through `dg.EnvVar` by the steps
and by `glimpse serve`); only whether they are set is read here. Subscriber numbers are personal
data: a bad one is named by its place in the list, never by its value.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field

from glimpse_assets.settings import HttpUrl, IsSet, OnOff, Settings

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DEFAULT_TWILIO_API_URL = "https://api.twilio.com"


def is_e164(number: str) -> bool:
    return bool(E164.match(number))


def _numbers(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    numbers = [item.strip().replace(" ", "") for item in value.split(",") if item.strip()]
    for place, number in enumerate(numbers, start=1):
        if not is_e164(number):
            # The value is not repeated: it is a phone number (or meant to be one).
            raise ValueError(f"entry {place} is not an E.164 number like +15551234567")
    return numbers


def _public_url(value: str | None) -> str | None:
    return value.rstrip("/") if value else value


class SmsSettings(Settings):
    PRIVATE: ClassVar[frozenset[str]] = frozenset({"GLIMPSE_SMS_SUBSCRIBERS"})

    sms: OnOff = Field("off", alias="GLIMPSE_SMS")
    account_sid_set: IsSet = Field(False, alias="TWILIO_ACCOUNT_SID")
    auth_token_set: IsSet = Field(False, alias="TWILIO_AUTH_TOKEN")
    from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    messaging_service_sid: str | None = Field(None, alias="TWILIO_MESSAGING_SERVICE_SID")
    twilio_api_url: HttpUrl = Field(DEFAULT_TWILIO_API_URL, alias="TWILIO_API_URL")
    subscribers: Annotated[list[str], BeforeValidator(_numbers)] = Field(
        default_factory=list, alias="GLIMPSE_SMS_SUBSCRIBERS"
    )
    # Where Twilio reaches `glimpse serve`: signatures are computed over it, status callbacks go
    # to <it>/sms/status.
    public_url: Annotated[HttpUrl, AfterValidator(_public_url)] = Field(
        None, alias="GLIMPSE_PUBLIC_URL"
    )
    # Where the storage folder is served (as for Instagram): the image goes as MMS from there.
    public_base_url: HttpUrl = Field(None, alias="GLIMPSE_PUBLIC_BASE_URL")
    inbound_per_hour: Annotated[int, Field(ge=1, le=10_000)] = Field(
        10, alias="GLIMPSE_SMS_RATE_LIMIT_PER_HOUR"
    )
    reply_seconds: Annotated[float, Field(gt=0, le=14)] = Field(
        10.0, alias="GLIMPSE_SMS_REPLY_SECONDS"
    )

    @property
    def enabled(self) -> bool:
        return self.sms == "on"
