"""The Strava client against a local double of Strava's API on 127.0.0.1.

Tests assert what was sent as well as what came back, that the rotated refresh token is kept in
the object store, that rate limits never make a test (or a step) sleep for real, and that no
token or secret ever shows in an error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from glimpse_assets.storage.object_store import open_object_store
from glimpse_assets.storage.records import JsonRecords
from glimpse_assets.stories.strava import (
    TOKEN_RECORD,
    StravaAuthError,
    StravaClient,
    StravaError,
    StravaRateLimitError,
    day_window,
    seconds_to_next_window,
)
from glimpse_assets_tests.support.net import free_port
from glimpse_assets_tests.support.strava_double import (
    CLIENT_ID,
    CLIENT_SECRET,
    FIRST_REFRESH_TOKEN,
    StravaDouble,
    activity,
    rate_limited,
    server_error,
    unauthorized,
)

DAY = date(2026, 3, 2)
MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)
# 13:07:30 UTC on the day: 7.5 minutes (450 s) before the next quarter hour.
NOW = (MIDNIGHT + timedelta(hours=13, minutes=7, seconds=30)).timestamp()


class Sleeper:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def tokens(tmp_path) -> JsonRecords:
    return JsonRecords(open_object_store(str(tmp_path)), "_tokens")


def rides(count: int, start: datetime = MIDNIGHT, step: timedelta = timedelta(minutes=3)):
    return [activity(n, start + n * step) for n in range(count)]


def client(strava: StravaDouble, tokens: JsonRecords | None, **options) -> StravaClient:
    defaults = {"clock": lambda: NOW, "sleep": Sleeper()}
    return StravaClient(
        strava.url, CLIENT_ID, CLIENT_SECRET, FIRST_REFRESH_TOKEN, tokens, **{**defaults, **options}
    )


def issued_secrets(strava: StravaDouble) -> list[str]:
    """Every token the double handed out, the first refresh token and the client secret."""
    numbers = range(strava.grants + 1)
    return [
        CLIENT_SECRET,
        FIRST_REFRESH_TOKEN,
        *(f"refresh-token-{n}" for n in numbers),
        *(f"access-token-{n}" for n in numbers),
    ]


def assert_clean(error: BaseException, strava: StravaDouble) -> None:
    message = str(error)
    assert "\n" not in message
    for secret in issued_secrets(strava):
        assert secret not in message


# -- the day window -------------------------------------------------------------------------------


def test_day_window_is_the_utc_day_in_epoch_seconds():
    after, before = day_window(DAY)
    assert after == int(MIDNIGHT.timestamp()) == 1772409600
    assert before - after == 86_400
    assert datetime.fromtimestamp(before, UTC) == datetime(2026, 3, 3, tzinfo=UTC)


def test_the_next_window_is_the_next_wall_clock_quarter_hour():
    assert seconds_to_next_window(NOW) == 450
    assert seconds_to_next_window(MIDNIGHT.timestamp()) == 900
    assert seconds_to_next_window(MIDNIGHT.timestamp() + 899.5) == 0.5


# -- tokens ---------------------------------------------------------------------------------------


def test_refresh_grant_sends_the_form_and_stores_the_rotated_tokens(tokens):
    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        found = client(strava, tokens).activities_between(*day_window(DAY))
    assert [item["id"] for item in found] == [1000, 1001]
    (grant,) = strava.requests_to("token")
    form = {k: v[-1] for k, v in parse_qs(grant.body.decode()).items()}
    assert form == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": FIRST_REFRESH_TOKEN,
    }
    (listing,) = strava.requests_to("activities")
    assert listing.headers["authorization"] == "Bearer access-token-1"
    record = tokens.get(TOKEN_RECORD)
    assert record["refresh_token"] == "refresh-token-1" == strava.refresh_token
    assert record["access_token"] == "access-token-1"
    assert record["expires_at"] == int(NOW) + strava.expires_in


def test_a_second_client_uses_the_stored_newest_refresh_token(tokens):
    # Access tokens that expire at once, so that every client must refresh.
    with StravaDouble(rides(1), expires_in=0, clock=lambda: NOW) as strava:
        client(strava, tokens).activities_between(*day_window(DAY))
        client(strava, tokens).activities_between(*day_window(DAY))
        sent = [parse_qs(r.body.decode())["refresh_token"][0] for r in strava.requests_to("token")]
        assert sent == [FIRST_REFRESH_TOKEN, "refresh-token-1"]
        assert tokens.get(TOKEN_RECORD)["refresh_token"] == "refresh-token-2"

        # The configured token has been rotated away: the double refuses it.
        with pytest.raises(StravaAuthError) as refused:
            client(strava, None).activities_between(*day_window(DAY))
    assert "STRAVA_REFRESH_TOKEN" in str(refused.value)
    assert "activity:read_all" in str(refused.value)
    assert_clean(refused.value, strava)


def test_a_stored_access_token_still_valid_is_used_without_a_grant(tokens):
    with StravaDouble(rides(1), clock=lambda: NOW) as strava:
        client(strava, tokens).activities_between(*day_window(DAY))
        client(strava, tokens).activities_between(*day_window(DAY))
    assert strava.grants == 1
    assert len(strava.requests_to("activities")) == 2


def test_the_configured_token_is_tried_when_the_stored_one_is_refused(tokens):
    """After the athlete authorised the app again, STRAVA_REFRESH_TOKEN is newer than the store."""
    tokens.create(TOKEN_RECORD, {"refresh_token": "stale", "access_token": "old", "expires_at": 0})
    with StravaDouble(rides(1), clock=lambda: NOW) as strava:
        found = client(strava, tokens).activities_between(*day_window(DAY))
    assert len(found) == 1
    sent = [parse_qs(r.body.decode())["refresh_token"][0] for r in strava.requests_to("token")]
    assert sent == ["stale", FIRST_REFRESH_TOKEN]
    assert tokens.get(TOKEN_RECORD)["refresh_token"] == "refresh-token-1"


def test_a_record_another_run_stored_meanwhile_is_not_clobbered(tokens):
    class LateRecords(JsonRecords):
        """Reads nothing, as a run that read before another run stored its tokens."""

        def get_versioned(self, name):
            return None

    theirs = {"refresh_token": "theirs", "access_token": "theirs-access", "expires_at": 1}
    tokens.create(TOKEN_RECORD, theirs)
    late = LateRecords(tokens.store, "_tokens")
    with StravaDouble(rides(1), clock=lambda: NOW) as strava:
        found = client(strava, late).activities_between(*day_window(DAY))
    assert len(found) == 1
    assert tokens.get(TOKEN_RECORD) == theirs


def test_missing_app_credentials_fail_before_any_request(tokens):
    with StravaDouble(clock=lambda: NOW) as strava:
        strava_client = StravaClient(strava.url, None, None, FIRST_REFRESH_TOKEN, tokens)
        with pytest.raises(StravaAuthError, match="STRAVA_CLIENT_ID"):
            strava_client.activities_between(*day_window(DAY))
    assert strava.requests == []


# -- activities -----------------------------------------------------------------------------------


def test_activities_are_paged_past_200_and_filtered_to_the_day(tokens):
    day_rides = rides(450, step=timedelta(seconds=150))  # 450 rides within the day
    others = [
        activity(900, MIDNIGHT - timedelta(seconds=1)),
        activity(901, MIDNIGHT + timedelta(days=1)),
    ]
    with StravaDouble(day_rides + others, clock=lambda: NOW) as strava:
        found = client(strava, tokens).activities_between(*day_window(DAY))
    assert len(found) == 450
    assert {item["id"] for item in found} == {item["id"] for item in day_rides}
    pages = strava.requests_to("activities")
    after, before = day_window(DAY)
    assert [request.query for request in pages] == [
        {"after": str(after), "before": str(before), "per_page": "200", "page": str(page)}
        for page in (1, 2, 3)
    ]


def test_exactly_200_activities_take_one_more_empty_page(tokens):
    with StravaDouble(rides(200), clock=lambda: NOW) as strava:
        found = client(strava, tokens).activities_between(*day_window(DAY))
    assert len(found) == 200
    assert [r.query["page"] for r in strava.requests_to("activities")] == ["1", "2"]


# -- faults ---------------------------------------------------------------------------------------


def test_a_401_refreshes_once_and_retries(tokens):
    with StravaDouble(rides(3), clock=lambda: NOW) as strava:
        strava.fail_next("activities", unauthorized())
        found = client(strava, tokens).activities_between(*day_window(DAY))
    assert len(found) == 3
    assert strava.grants == 2
    auth = [r.headers["authorization"] for r in strava.requests_to("activities")]
    assert auth == ["Bearer access-token-1", "Bearer access-token-2"]
    assert tokens.get(TOKEN_RECORD)["refresh_token"] == "refresh-token-2"


def test_a_second_401_is_a_clear_auth_error(tokens):
    with StravaDouble(rides(3), clock=lambda: NOW) as strava:
        strava.fail_next("activities", unauthorized(), unauthorized())
        with pytest.raises(StravaAuthError) as raised:
            client(strava, tokens).activities_between(*day_window(DAY))
    message = str(raised.value)
    assert "HTTP 401" in message and "STRAVA_REFRESH_TOKEN" in message
    assert "activity:read_all" in message
    assert len(strava.requests_to("activities")) == 2
    assert_clean(raised.value, strava)


def test_a_429_with_daily_budget_left_waits_for_the_next_window_then_succeeds(tokens):
    sleeper = Sleeper()
    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        strava.fail_next("activities", rate_limited(usage="100,523", limit="100,1000"))
        found = client(strava, tokens, sleep=sleeper).activities_between(*day_window(DAY))
    assert len(found) == 2
    assert sleeper.waits == [450]
    assert len(strava.requests_to("activities")) == 2


def test_a_429_again_after_waiting_fails_without_a_second_wait(tokens):
    sleeper = Sleeper()
    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        strava.fail_next("activities", rate_limited(), rate_limited())
        with pytest.raises(StravaRateLimitError, match="15-minute") as raised:
            client(strava, tokens, sleep=sleeper).activities_between(*day_window(DAY))
    assert sleeper.waits == [450]
    assert_clean(raised.value, strava)


def test_a_spent_daily_limit_fails_at_once_saying_when_it_resets(tokens):
    sleeper = Sleeper()
    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        strava.fail_next("activities", rate_limited(usage="100,1000", limit="100,1000"))
        with pytest.raises(StravaRateLimitError) as raised:
            client(strava, tokens, sleep=sleeper).activities_between(*day_window(DAY))
    assert sleeper.waits == []
    assert "daily" in str(raised.value)
    assert "2026-03-03 00:00 UTC" in str(raised.value)
    assert len(strava.requests_to("activities")) == 1
    assert_clean(raised.value, strava)


def test_a_5xx_is_retried_once(tokens):
    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        strava.fail_next("activities", server_error(503))
        found = client(strava, tokens).activities_between(*day_window(DAY))
    assert len(found) == 2
    assert len(strava.requests_to("activities")) == 2


def test_a_5xx_twice_is_a_one_line_error(tokens):
    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        strava.fail_next("activities", server_error(500), server_error(502))
        with pytest.raises(StravaError, match="HTTP 502") as raised:
            client(strava, tokens).activities_between(*day_window(DAY))
    assert len(strava.requests_to("activities")) == 2
    assert_clean(raised.value, strava)


def test_a_token_endpoint_5xx_is_not_repeated(tokens):
    """A repeated grant could spend a refresh token Strava has already rotated."""
    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        strava.fail_next("token", server_error(500))
        with pytest.raises(StravaError, match="token endpoint returned HTTP 500") as raised:
            client(strava, tokens).activities_between(*day_window(DAY))
    assert len(strava.requests_to("token")) == 1
    assert_clean(raised.value, strava)


def test_an_unreachable_strava_is_a_one_line_error(tokens):
    port = free_port()  # nothing listens on it
    strava_client = StravaClient(
        f"http://127.0.0.1:{port}", CLIENT_ID, CLIENT_SECRET, FIRST_REFRESH_TOKEN, tokens
    )
    with pytest.raises(StravaError, match="unreachable") as raised:
        strava_client.activities_between(*day_window(DAY))
    assert "\n" not in str(raised.value)
    assert CLIENT_SECRET not in str(raised.value)
    assert FIRST_REFRESH_TOKEN not in str(raised.value)


def test_echoed_tokens_are_redacted_from_errors(tokens):
    """An answer that echoes the request's token shows *** instead."""
    from glimpse_assets_tests.support.http_doubles import Reply

    with StravaDouble(rides(2), clock=lambda: NOW) as strava:
        strava.fail_next(
            "activities",
            Reply.json({"message": "bad access-token-1 for refresh-token-1"}, status=400),
        )
        with pytest.raises(StravaError) as raised:
            client(strava, tokens).activities_between(*day_window(DAY))
    assert "***" in str(raised.value)
    assert_clean(raised.value, strava)
