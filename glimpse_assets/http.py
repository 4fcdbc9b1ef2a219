"""One HTTP session recipe for outside APIs: timeouts, and retries for what is worth retrying."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRYABLE_STATUSES = (429, 500, 502, 503, 504)


def retrying_session(max_retries: int, backoff_seconds: float) -> requests.Session:
    """A session that retries 429 and 5xx (honouring Retry-After) and connection errors.

    After the last retry the final response is returned, not raised, so the caller can report
    the API's own error message.
    """
    retry = Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        backoff_factor=backoff_seconds,
        status_forcelist=RETRYABLE_STATUSES,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "glimpse-assets"
    return session


def error_message(response: requests.Response, limit: int = 300) -> str:
    """The API's own explanation of a failed response, from its JSON body or its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for field in ("message", "msg", "error", "detail", "errors"):
            value = body.get(field)
            if isinstance(value, dict):
                value = value.get("message") or value
            if value:
                return str(value)[:limit]
    text = response.text.strip()
    return text[:limit] if text else response.reason or "no message"
