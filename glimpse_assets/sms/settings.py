"""The sms domain's settings: whether the channel is on, Twilio's account and sender, who gets
the daily glimpse, and the inbound webhook's public address and limits.

`TWILIO_ACCOUNT_SID` and `TWILIO_AUTH_TOKEN` are secrets (read through `env_var` by the steps
and from the environment by `glimpse serve`); only whether they are set is read here. Subscriber
numbers are personal data: a bad one is named by its place in the list, never by its value.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field

from glimpse_assets.settings import HttpUrl, OnOff, Secret, ServedStorageSettings, shown_as

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DEFAULT_TWILIO_API_URL = "https://api.twilio.com"


def is_e164(number: str) -> bool:
    return bool(E164.match(number))


def split_numbers(value: str) -> list[str]:
    """The numbers of a comma-separated list, without spaces."""
    return [item.strip().replace(" ", "") for item in value.split(",") if item.strip()]


@shown_as("comma-separated E.164 numbers, like +15551234567")
def _numbers(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    numbers = split_numbers(value)
    for place, number in enumerate(numbers, start=1):
        if not is_e164(number):
            # The value is not repeated: it is a phone number (or meant to be one).
            raise ValueError(f"entry {place} is not an E.164 number like +15551234567")
    return numbers


def _public_url(value: str | None) -> str | None:
    return value.rstrip("/") if value else value


class SmsSettings(ServedStorageSettings):
    """Whether the SMS channel is on, Twilio's account and sender, who gets the daily glimpse,
    and the inbound webhook's address and limits."""

    PRIVATE: ClassVar[frozenset[str]] = frozenset({"GLIMPSE_SMS_SUBSCRIBERS"})

    sms: OnOff = Field(
        "off",
        alias="GLIMPSE_SMS",
        description="`on` sends the day's glimpse by SMS and opens the SMS routes of "
        "`glimpse serve`.",
    )
    account_sid_set: Secret = Field(
        False, alias="TWILIO_ACCOUNT_SID", description="Your Twilio account's SID (AC...)."
    )
    auth_token_set: Secret = Field(
        False,
        alias="TWILIO_AUTH_TOKEN",
        description="Your Twilio account's auth token; it also checks the webhooks' signatures.",
    )
    from_number: str | None = Field(
        None,
        alias="TWILIO_FROM_NUMBER",
        description="The Twilio number the texts come from (or set TWILIO_MESSAGING_SERVICE_SID).",
    )
    messaging_service_sid: str | None = Field(
        None,
        alias="TWILIO_MESSAGING_SERVICE_SID",
        description="A Twilio Messaging Service the texts come from, instead of "
        "TWILIO_FROM_NUMBER.",
    )
    twilio_api_url: HttpUrl = Field(
        DEFAULT_TWILIO_API_URL,
        alias="TWILIO_API_URL",
        description="Where the Twilio SDK's requests go (a local double in the tests).",
    )
    subscribers: Annotated[list[str], BeforeValidator(_numbers)] = Field(
        default_factory=list,
        alias="GLIMPSE_SMS_SUBSCRIBERS",
        description="The numbers that get the daily text (plus those who texted START). "
        "Personal data: an error names a bad one by its place in the list, never by its value.",
    )
    # Where Twilio reaches `glimpse serve`: signatures are computed over it, status callbacks go
    # to <it>/sms/status.
    public_url: Annotated[HttpUrl, AfterValidator(_public_url)] = Field(
        None,
        alias="GLIMPSE_PUBLIC_URL",
        description="Where Twilio reaches `glimpse serve`: the webhooks' signatures are "
        "computed over it, and delivery statuses go to `<it>/sms/status`.",
    )
    inbound_per_hour: Annotated[int, Field(ge=1, le=10_000)] = Field(
        10,
        alias="GLIMPSE_SMS_RATE_LIMIT_PER_HOUR",
        description="How many questions one sender may ask in an hour.",
    )
    reply_seconds: Annotated[float, Field(gt=0, le=14)] = Field(
        10.0,
        alias="GLIMPSE_SMS_REPLY_SECONDS",
        description="The most an SMS answer may take, in seconds (Twilio gives up at 15); when "
        "the model is slower, the extractive answer goes.",
    )

    @property
    def enabled(self) -> bool:
        return self.sms == "on"
