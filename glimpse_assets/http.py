"""One HTTP session recipe for outside APIs: timeouts, and retries for what is worth retrying;
and error texts from outside answers with the request's credentials redacted."""

from __future__ import annotations

from collections.abc import Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from glimpse_assets.llm.guardrails import redact_outside_text

SERVER_ERRORS = (500, 502, 503, 504)
RETRYABLE_STATUSES = (429, *SERVER_ERRORS)


def retrying_session(
    max_retries: int,
    backoff_seconds: float,
    statuses: Iterable[int] = RETRYABLE_STATUSES,
    respect_retry_after: bool = True,
) -> requests.Session:
    """A session that retries `statuses` (429 and 5xx by default, honouring Retry-After) and
    connection errors, on GETs only.

    After the last retry the final response is returned, not raised, so the caller can report
    the API's own error message.
    """
    retry = Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        backoff_factor=backoff_seconds,
        status_forcelist=tuple(statuses),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=respect_retry_after,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "glimpse-assets"
    return session


def request_secrets(request: requests.PreparedRequest | None) -> list[str]:
    """The credentials a request carried in its headers: the Authorization header, whole and
    without its scheme ("Basic ...", "Bearer ..."), cookies, and key or token headers."""
    if request is None:
        return []
    secrets = []
    for name, value in request.headers.items():
        lowered = name.lower()
        if lowered in ("authorization", "proxy-authorization", "cookie") or "key" in lowered:
            value = str(value)
            secrets += [value, value.partition(" ")[2]]
        elif "token" in lowered or "secret" in lowered:
            secrets.append(str(value))
    return secrets


def error_message(
    response: requests.Response, limit: int = 300, secrets: Iterable[str | None] = ()
) -> str:
    """The API's own explanation of a failed response, from its JSON body or its text, with the
    `secrets`, the request's credentials (its Authorization or key headers, the user info and
    credential-like query values of its URL) and any echo of them replaced by ***."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        for field in ("message", "msg", "error", "detail", "errors"):
            value = body.get(field)
            if isinstance(value, dict):
                value = value.get("message") or value
            if value:
                message = str(value)
                break
    if message is None:
        message = response.text.strip() or response.reason or "no message"
    request = response.request
    urls = [response.url, request.url if request is not None else None]
    # Redacted before it is cut, so that a cut cannot leave half a secret unrecognised.
    return redact_outside_text(message, [*secrets, *request_secrets(request)], urls)[:limit]
