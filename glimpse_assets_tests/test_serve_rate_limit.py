"""The service's token buckets and key ring, as plain objects: a fake clock, no sleeping."""

from __future__ import annotations

import threading

import pytest
from fastapi import HTTPException

from glimpse_assets.serve import auth
from glimpse_assets.serve.auth import KeyRing, RateLimiter, TokenBucket, retry_after


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_full_bucket_lets_a_burst_through_then_says_how_long_to_wait():
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # one token at 2 a second
    assert bucket.take() == pytest.approx(0.5)  # refused requests take nothing


def test_tokens_come_back_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    for _ in range(3):
        bucket.take()
    clock.advance(0.25)
    assert bucket.take() == pytest.approx(0.25)  # half a token there, half to wait for
    clock.advance(0.25)
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)


def test_an_idle_bucket_holds_no_more_than_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    clock.advance(3600)
    assert [bucket.take() for _ in range(3)][:2] == [0.0, 0.0]
    assert bucket.take() > 0


def test_a_clock_that_steps_back_gives_no_tokens():
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    bucket.take()
    clock.advance(-50)
    assert bucket.take() == pytest.approx(1.0)
    clock.advance(1)
    assert bucket.take() == 0.0


def test_threads_share_one_bucket_without_losing_count():
    bucket = TokenBucket(rate=1, burst=50, clock=FakeClock())  # the clock never moves
    granted = []
    lock = threading.Lock()

    def hammer():
        for _ in range(100):
            if bucket.take() == 0.0:
                with lock:
                    granted.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 50


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0)])
def test_a_bucket_needs_a_positive_rate_and_burst(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate=rate, burst=burst)
    with pytest.raises(ValueError):
        RateLimiter(rate=rate, burst=burst)


@pytest.mark.parametrize(("wait", "header"), [(0.001, "1"), (0.5, "1"), (1.0, "1"), (1.2, "2")])
def test_retry_after_is_whole_seconds_and_at_least_one(wait, header):
    assert retry_after(wait) == header


def test_each_caller_has_its_own_bucket_and_the_429_says_when_to_retry():
    clock = FakeClock()
    limiter = RateLimiter(rate=0.5, burst=1, clock=clock)
    limiter.check(b"a")
    limiter.check(b"b")
    with pytest.raises(HTTPException) as refused:
        limiter.check(b"a")
    assert refused.value.status_code == 429
    assert refused.value.headers == {"Retry-After": "2"}
    assert "rate limit exceeded" in refused.value.detail
    clock.advance(2)
    limiter.check(b"a")


KEYS = ["first-key-0123456789", "second-key-0123456789", "third-key-0123456789abcdef"]


def test_the_key_ring_knows_its_keys_and_no_others():
    ring = KeyRing(KEYS)
    digests = [ring.match(key) for key in KEYS]
    assert all(digests) and len(set(digests)) == 3
    for other in [None, "", "first-key-012345678", "first-key-0123456789 ", KEYS[0].upper()]:
        assert ring.match(other) is None


def test_the_key_ring_keeps_no_key_and_says_none():
    ring = KeyRing(KEYS)
    kept = repr(vars(ring)) + repr(ring)
    for key in KEYS:
        assert key not in kept and key.encode() not in ring.match(key)
    assert repr(ring) == "KeyRing(<3 keys>)"


@pytest.mark.parametrize("candidate", [KEYS[0], KEYS[2], "not-a-key-at-all", "x"])
def test_every_key_is_compared_whichever_matches(monkeypatch, candidate):
    calls = []

    def counting(a, b):
        calls.append((len(a), len(b)))
        return a == b

    ring = KeyRing(KEYS)
    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    ring.match(candidate)
    assert len(calls) == len(KEYS)
    assert len({length for pair in calls for length in pair}) == 1  # equal-length digests
