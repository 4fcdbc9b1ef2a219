"""The sms domain's resource, `sms_sender`: whether the channel is on, Twilio's account (the
SID and token through `dg.EnvVar`), the sender, and who the daily glimpse goes to. Each field is
a setting of `SmsSettings` (its default and description come from there), and
`SmsSenderResource.from_settings` is the one place the settings become the resource."""

from __future__ import annotations

from typing import Any

import dagster as dg

from glimpse_assets.settings import setting
from glimpse_assets.sms.settings import SmsSettings, split_numbers


class SmsSenderResource(dg.ConfigurableResource):
    enabled: bool = setting(SmsSettings, "sms", default=False)
    account_sid: str | None = setting(SmsSettings, "account_sid_set")
    auth_token: str | None = setting(SmsSettings, "auth_token_set")
    from_number: str | None = setting(SmsSettings, "from_number")
    messaging_service_sid: str | None = setting(SmsSettings, "messaging_service_sid")
    api_url: str = setting(SmsSettings, "twilio_api_url")
    # Phone numbers: through EnvVar, so the UI's resource config shows the variable, not them.
    subscribers: str | None = setting(SmsSettings, "subscribers")
    public_url: str | None = setting(SmsSettings, "public_url")
    public_base_url: str | None = setting(SmsSettings, "public_base_url")

    @classmethod
    def from_settings(cls, settings: SmsSettings) -> SmsSenderResource:
        return cls(
            enabled=settings.enabled,
            account_sid=settings.env_var("account_sid_set"),
            auth_token=settings.env_var("auth_token_set"),
            from_number=settings.from_number,
            messaging_service_sid=settings.messaging_service_sid,
            api_url=settings.twilio_api_url,
            subscribers=settings.env_var("subscribers"),
            public_url=settings.public_url,
            public_base_url=settings.public_base_url,
        )

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
        return split_numbers(self.subscribers or "")

    @property
    def status_callback(self) -> str | None:
        return f"{self.public_url}/sms/status" if self.public_url else None


def sms_resources(settings: SmsSettings) -> dict:
    return {"sms_sender": SmsSenderResource.from_settings(settings)}
