"""The sms domain's resource, `sms_sender`: whether the channel is on, Twilio's account (the
SID and token through `dg.EnvVar`), the sender, and who the daily glimpse goes to."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from glimpse_assets.settings import secret
from glimpse_assets.sms.settings import DEFAULT_TWILIO_API_URL, SmsSettings


class SmsSenderResource(dg.ConfigurableResource):
    enabled: bool = Field(default=False, description="GLIMPSE_SMS=on")
    account_sid: str | None = Field(default=None, description="dg.EnvVar('TWILIO_ACCOUNT_SID')")
    auth_token: str | None = Field(default=None, description="dg.EnvVar('TWILIO_AUTH_TOKEN')")
    from_number: str | None = Field(default=None, description="TWILIO_FROM_NUMBER")
    messaging_service_sid: str | None = Field(
        default=None, description="TWILIO_MESSAGING_SERVICE_SID"
    )
    api_url: str = Field(default=DEFAULT_TWILIO_API_URL, description="TWILIO_API_URL")
    # Phone numbers: through EnvVar, so the UI's resource config shows the variable, not them.
    subscribers: str | None = Field(
        default=None, description="dg.EnvVar('GLIMPSE_SMS_SUBSCRIBERS'): comma-separated E.164"
    )
    public_url: str | None = Field(default=None, description="GLIMPSE_PUBLIC_URL")
    public_base_url: str | None = Field(default=None, description="GLIMPSE_PUBLIC_BASE_URL")

    def __repr__(self) -> str:  # the subscribers are phone numbers
        return f"SmsSenderResource(enabled={self.enabled}, api_url={self.api_url!r})"

    def missing(self) -> list[str]:
        """The settings sending needs that are not set."""
        needed = {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token}
        missing = [name for name, value in needed.items() if not value]
        if not self.from_number and not self.messaging_service_sid:
            missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        return missing

    def client(self) -> Any:
        from glimpse_assets.sms.twilio_client import twilio_client

        return twilio_client(self.account_sid, self.auth_token, self.api_url)

    def configured_subscribers(self) -> list[str]:
        return [
            n.strip().replace(" ", "") for n in (self.subscribers or "").split(",") if n.strip()
        ]

    @property
    def status_callback(self) -> str | None:
        return f"{self.public_url}/sms/status" if self.public_url else None


def sms_resources(settings: SmsSettings) -> dict:
    return {
        "sms_sender": SmsSenderResource(
            enabled=settings.enabled,
            account_sid=secret("TWILIO_ACCOUNT_SID", settings.account_sid_set),
            auth_token=secret("TWILIO_AUTH_TOKEN", settings.auth_token_set),
            from_number=settings.from_number,
            messaging_service_sid=settings.messaging_service_sid,
            api_url=settings.twilio_api_url,
            subscribers=secret("GLIMPSE_SMS_SUBSCRIBERS", bool(settings.subscribers)),
            public_url=settings.public_url,
            public_base_url=settings.public_base_url,
        )
    }
