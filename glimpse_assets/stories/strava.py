"""A thin Strava API client: the OAuth refresh grant and the athlete's activities.

Not stravalib: its default rate limiter sleeps for hours inside a step. Here a 429 waits at most
for the next 15-minute window (once), and a spent daily budget fails at once, saying when it
resets. Strava rotates refresh tokens, so the newest one is kept in the object store (one JSON
record, written with conditional create/replace) and preferred over the configured one.
Tokens never appear in errors: every message is redacted of the secrets the client holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

from glimpse_assets.http import SERVER_ERRORS, error_message, retrying_session
from glimpse_assets.llm.guardrails import redact_outside_text
from glimpse_assets.storage.object_store import AlreadyExistsError, ObjectChangedError
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets.stories.settings import DEFAULT_API_URL

TOKEN_RECORD = "strava/token"
PER_PAGE = 200
WINDOW_SECONDS = 15 * 60
# An access token this close to its expiry is refreshed before use.
EXPIRY_MARGIN_SECONDS = 300
AUTH_HINT = (
    "check STRAVA_CLIENT_ID, STRAVA_CLIENT_SECRET and STRAVA_REFRESH_TOKEN, and that the app "
    "was authorised with the activity:read_all scope"
)


class StravaError(RuntimeError):
    """Strava could not deliver what was asked; the one-line message says why."""


class StravaAuthError(StravaError):
    """Strava refused the app's credentials or tokens."""


class StravaRateLimitError(StravaError):
    """Strava's rate limit is spent beyond what a step should wait for."""


def day_window(day: date) -> tuple[int, int]:
    """The UTC day as `(after, before)` epoch seconds: its midnight and the next one."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(start.timestamp()), int((start + timedelta(days=1)).timestamp())


def strava_session() -> requests.Session:
    """One retry, at once, of a connection error, and of a 5xx or a read error on a GET.

    429 is not retried here (the client decides whether waiting is worth it), nor is a token
    POST that may have reached Strava: a repeated grant would spend a rotated refresh token.
    """
    return retrying_session(1, 0, statuses=SERVER_ERRORS, respect_retry_after=False)


def _pair(value: str | None) -> tuple[int, int] | None:
    """A `"15min,daily"` rate-limit header as two numbers, or None when absent or malformed."""
    try:
        short, daily = (int(part) for part in str(value).split(","))
    except ValueError:
        return None
    return short, daily


def daily_limit_spent(headers: Any) -> bool:
    """Whether a 429's headers say a daily budget (overall or for reads) is used up."""
    for prefix in ("X-RateLimit", "X-ReadRateLimit"):
        limit = _pair(headers.get(f"{prefix}-Limit"))
        usage = _pair(headers.get(f"{prefix}-Usage"))
        if limit and usage and usage[1] >= limit[1]:
            return True
    return False


def seconds_to_next_window(now: float) -> float:
    """The wait until the next wall-clock quarter hour, when Strava's 15-minute budget resets."""
    return min(WINDOW_SECONDS - now % WINDOW_SECONDS, WINDOW_SECONDS)


def next_utc_midnight(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC).date()
    return datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)


class StravaClient:
    """The Strava API at `api_url` for the athlete who authorised the app.

    `clock` (epoch seconds) and `sleep` are injectable so that tests never wait.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        tokens: JsonRecords | None = None,
        session: requests.Session | None = None,
        *,
        timeout_seconds: float = 30.0,
        max_pages: int = 100,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.tokens = tokens
        self.session = session if session is not None else strava_session()
        self.timeout_seconds = timeout_seconds
        self.max_pages = max_pages
        self.clock = clock
        self.sleep = sleep
        self._access_token: str | None = None
        self._expires_at = 0.0
        # Every token this client has seen, so that no message can show one.
        self._secrets: set[str] = {s for s in (client_secret, refresh_token) if s}

    def __repr__(self) -> str:
        return f"StravaClient(api_url={self.api_url!r})"

    # -- errors ---------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact_outside_text(text, self._secrets)

    def _failure(self, response: requests.Response) -> str:
        return error_message(response, limit=200, secrets=self._secrets)

    # -- tokens ---------------------------------------------------------------------------------

    def _stored(self) -> tuple[dict[str, Any], str] | None:
        return self.tokens.get_versioned(TOKEN_RECORD) if self.tokens is not None else None

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token: this client's, the stored one, or a fresh grant."""
        now = self.clock()
        if (
            not force_refresh
            and self._access_token
            and self._expires_at - now > EXPIRY_MARGIN_SECONDS
        ):
            return self._access_token
        stored = self._stored()
        if stored and not force_refresh:
            record = stored[0]
            self._remember(record)
            if record.get("access_token") and (
                float(record.get("expires_at") or 0) - now > EXPIRY_MARGIN_SECONDS
            ):
                self._access_token = record["access_token"]
                self._expires_at = float(record["expires_at"])
                return self._access_token
        return self._refresh(stored)

    def _remember(self, record: dict[str, Any]) -> None:
        self._secrets |= {
            str(record[k]) for k in ("access_token", "refresh_token") if record.get(k)
        }

    def _refresh(self, stored: tuple[dict[str, Any], str] | None) -> str:
        """The refresh grant, with the stored refresh token first, then the configured one (set
        anew after the athlete authorised the app again); the rotated tokens are stored."""
        if not self.client_id or not self.client_secret:
            raise StravaAuthError(f"Strava needs an app's client id and secret: {AUTH_HINT}")
        if stored:
            self._remember(stored[0])
        candidates = [stored[0].get("refresh_token") if stored else None, self.refresh_token]
        candidates = list(dict.fromkeys(token for token in candidates if token))
        if not candidates:
            raise StravaAuthError(f"Strava has no refresh token: {AUTH_HINT}")
        refused = ""
        for refresh_token in candidates:
            grant = self._grant(refresh_token)
            if isinstance(grant, dict):
                self._store(grant, stored)
                return grant["access_token"]
            refused = grant
        raise StravaAuthError(f"Strava refused the refresh token ({refused}): {AUTH_HINT}")

    def _grant(self, refresh_token: str) -> dict[str, Any] | str:
        """The token response, or why Strava refused the refresh token."""
        url = f"{self.api_url}/oauth/token"
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        try:
            response = self.session.post(url, data=form, timeout=self.timeout_seconds)
        except requests.RequestException as error:
            raise StravaError(self._redact(f"Strava unreachable at {url}: {error}")) from None
        if response.status_code in (400, 401, 403):
            return f"HTTP {response.status_code}: {self._failure(response)}"
        if response.status_code != 200:
            raise StravaError(
                self._redact(
                    f"Strava token endpoint returned HTTP {response.status_code}: "
                    f"{self._failure(response)}"
                )
            )
        try:
            body = response.json()
            grant = {
                "access_token": str(body["access_token"]),
                "refresh_token": str(body.get("refresh_token") or refresh_token),
                "expires_at": int(body["expires_at"]),
            }
        except (ValueError, KeyError, TypeError):
            raise StravaError("Strava token endpoint answered without an access token") from None
        self._remember(grant)
        return grant

    def _store(self, grant: dict[str, Any], stored: tuple[dict[str, Any], str] | None) -> None:
        """Keep the rotated tokens. If another run stored tokens since they were read, its
        record stays: it holds a refresh token at least as new, and this run has its access."""
        self._access_token = grant["access_token"]
        self._expires_at = float(grant["expires_at"])
        if self.tokens is None:
            return
        record = {**grant, "updated_at": datetime.fromtimestamp(self.clock(), UTC).isoformat()}
        try:
            if stored is None:
                self.tokens.create(TOKEN_RECORD, record)
            else:
                self.tokens.replace(TOKEN_RECORD, record, stored[1])
        except (AlreadyExistsError, ObjectChangedError):
            pass

    # -- activities -----------------------------------------------------------------------------

    def activities_between(self, after: int, before: int) -> list[dict[str, Any]]:
        """The athlete's SummaryActivity dicts that Strava filters by `after` and `before` (epoch
        seconds, on `start_date`), every page of them."""
        activities: list[dict[str, Any]] = []
        for page in range(1, self.max_pages + 1):
            params = {"after": after, "before": before, "per_page": PER_PAGE, "page": page}
            items = self._get("/api/v3/athlete/activities", params)
            if not isinstance(items, list):
                raise StravaError(f"Strava activities page {page} is not a list")
            activities.extend(items)
            if len(items) < PER_PAGE:
                return activities
        raise StravaError(
            f"Strava returned more than {self.max_pages} pages of {PER_PAGE} activities "
            f"between {after} and {before}"
        )

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        """GET with a valid token: a 401 refreshes once, a 429 waits for the next 15-minute
        window once if the daily budget is not spent."""
        url = f"{self.api_url}{path}"
        refreshed = waited = False
        token = self.access_token()
        while True:
            try:
                response = self.session.get(
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout_seconds,
                )
            except requests.RequestException as error:
                raise StravaError(self._redact(f"Strava unreachable at {url}: {error}")) from None
            status = response.status_code
            if status == 401 and not refreshed:
                refreshed = True
                token = self.access_token(force_refresh=True)
                continue
            if status in (401, 403):
                raise StravaAuthError(
                    self._redact(
                        f"Strava refused {path} with HTTP {status} ({self._failure(response)}): "
                        f"{AUTH_HINT}"
                    )
                )
            if status == 429:
                now = self.clock()
                if daily_limit_spent(response.headers):
                    reset = next_utc_midnight(now).strftime("%Y-%m-%d %H:%M UTC")
                    raise StravaRateLimitError(
                        f"Strava's daily rate limit is spent (usage "
                        f"{response.headers.get('X-RateLimit-Usage')} of "
                        f"{response.headers.get('X-RateLimit-Limit')}); it resets at {reset}"
                    )
                if not waited:
                    waited = True
                    self.sleep(seconds_to_next_window(now))
                    continue
                raise StravaRateLimitError(
                    "Strava's 15-minute rate limit is still spent after waiting for the next "
                    "window; try again in 15 minutes"
                )
            if status != 200:
                raise StravaError(
                    self._redact(
                        f"Strava returned HTTP {status} for {path}: {self._failure(response)}"
                    )
                )
            try:
                return response.json()
            except ValueError:
                raise StravaError(f"Strava returned malformed JSON for {path}") from None
