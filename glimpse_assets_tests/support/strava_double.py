"""A local stand-in for Strava's API: the OAuth refresh grant and the athlete's activities.

Like Strava it rotates the refresh token on every grant and refuses the old one, filters
activities by `after` and `before` (epoch seconds, on `start_date`) and pages them by `per_page`
and `page`. Tests script faults (`fail_next`) and read every request (`requests`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from glimpse_assets_tests.support.http_doubles import LocalHTTPServer, Reply, Request

CLIENT_ID = "4242"
CLIENT_SECRET = "client-secret-double"
FIRST_REFRESH_TOKEN = "refresh-token-0"


def activity(number: int, start: datetime, **fields: Any) -> dict[str, Any]:
    """A SummaryActivity as Strava lists it."""
    return {
        "id": 1000 + number,
        "resource_state": 2,
        "athlete": {"id": 7, "resource_state": 1},
        "name": f"Ride {number}",
        "type": "Ride",
        "sport_type": "Ride",
        "distance": 10_000.0 + number,
        "moving_time": 1800,
        "elapsed_time": 2000,
        "total_elevation_gain": 120.0,
        "start_date": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_date_local": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": "(GMT+00:00) Europe/London",
        **fields,
    }


def rate_limited(usage: str = "100,523", limit: str = "100,1000") -> Reply:
    return Reply.json(
        {"message": "Rate Limit Exceeded", "errors": [{"resource": "Application"}]},
        status=429,
        **{"X-RateLimit-Limit": limit, "X-RateLimit-Usage": usage},
    )


def unauthorized() -> Reply:
    return Reply.json(
        {
            "message": "Authorization Error",
            "errors": [{"code": "invalid", "field": "access_token"}],
        },
        status=401,
    )


def server_error(status: int = 500) -> Reply:
    return Reply.json({"message": "Internal Server Error"}, status=status)


class StravaDouble(LocalHTTPServer):
    """`with StravaDouble(activities) as strava:` serves Strava's JSON on `strava.url`."""

    def __init__(
        self,
        activities: list[dict[str, Any]] = (),
        expires_in: int = 21_600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(self._handle)
        self.clock = clock
        self.activities = list(activities)
        self.expires_in = expires_in
        self.refresh_token = FIRST_REFRESH_TOKEN
        self.access_tokens: set[str] = set()
        self.grants = 0
        self._faults: dict[str, list[Reply]] = {"token": [], "activities": []}
        self._numbers = itertools.count(1)
        self._state = threading.Lock()

    def fail_next(self, endpoint: str, *replies: Reply) -> None:
        """Answer the next requests to `endpoint` ("token" or "activities") with `replies`."""
        self._faults[endpoint].extend(replies)

    def requests_to(self, endpoint: str) -> list[Request]:
        path = {"token": "/oauth/token", "activities": "/api/v3/athlete/activities"}[endpoint]
        return [request for request in self.requests if request.path == path]

    def _handle(self, request: Request) -> Reply:
        with self._state:
            if request.method == "POST" and request.path == "/oauth/token":
                return self._fault("token") or self._grant(request)
            if request.method == "GET" and request.path == "/api/v3/athlete/activities":
                return self._fault("activities") or self._list(request)
        return Reply.json({"message": "Record Not Found"}, status=404)

    def _fault(self, endpoint: str) -> Reply | None:
        return self._faults[endpoint].pop(0) if self._faults[endpoint] else None

    def _grant(self, request: Request) -> Reply:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Reply.json({"message": "Bad Request", "errors": [{"field": "client_id"}]}, 400)
        if form.get("grant_type") != "refresh_token":
            return Reply.json({"message": "Bad Request", "errors": [{"field": "grant_type"}]}, 400)
        if form.get("refresh_token") != self.refresh_token:
            return Reply.json(
                {
                    "message": "Bad Request",
                    "errors": [{"field": "refresh_token", "code": "invalid"}],
                },
                400,
            )
        number = next(self._numbers)
        self.grants += 1
        self.refresh_token = f"refresh-token-{number}"
        access = f"access-token-{number}"
        self.access_tokens.add(access)
        expires_at = int(self.clock()) + self.expires_in
        return Reply.json(
            {
                "token_type": "Bearer",
                "access_token": access,
                "refresh_token": self.refresh_token,
                "expires_at": expires_at,
                "expires_in": self.expires_in,
            }
        )

    def _list(self, request: Request) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return unauthorized()
        query = request.query
        after = int(query.get("after", 0))
        before = int(query.get("before", 2**62))
        per_page = min(int(query.get("per_page", 30)), 200)
        page = max(int(query.get("page", 1)), 1)
        chosen = [item for item in self.activities if after <= _epoch(item["start_date"]) < before]
        chosen.sort(key=lambda item: item["start_date"])
        return Reply.json(chosen[(page - 1) * per_page : page * per_page])


def _epoch(start_date: str) -> int:
    return int(datetime.strptime(start_date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
