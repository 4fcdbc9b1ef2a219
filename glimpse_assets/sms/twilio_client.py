"""Twilio's own SDK client, with Glimpse's HTTP rules: requests go to `TWILIO_API_URL` (Twilio,
or a local double in the tests), and a 429 or 5xx is retried once, honouring Retry-After, in
this one place (the SDK itself does not retry).

Imported by the sms step only: twilio is not loaded with the code location.
"""

from __future__ import annotations

from typing import Any

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.util.retry import Retry

from glimpse_assets.http import RETRYABLE_STATUSES

TWILIO_ORIGIN = "https://api.twilio.com"
TIMEOUT_SECONDS = 30.0


class RedirectingHttpClient(TwilioHttpClient):
    """Sends what the SDK addresses to api.twilio.com to `api_url` instead."""

    def __init__(self, api_url: str, max_retries: int = 1, backoff_seconds: float = 0.5):
        super().__init__(timeout=TIMEOUT_SECONDS)
        self.api_url = api_url.rstrip("/")
        retry = Retry(
            total=max_retries,
            connect=max_retries,
            read=0,  # a POST whose answer was lost may have been sent: reconciled, not resent
            status=max_retries,
            backoff_factor=backoff_seconds,
            status_forcelist=RETRYABLE_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        if url.startswith(TWILIO_ORIGIN):
            url = self.api_url + url[len(TWILIO_ORIGIN) :]
        return super().request(method, url, *args, **kwargs)


def twilio_client(account_sid: str, auth_token: str, api_url: str = TWILIO_ORIGIN) -> Client:
    return Client(account_sid, auth_token, http_client=RedirectingHttpClient(api_url))
