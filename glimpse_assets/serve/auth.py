"""API keys and the per-key rate limit: the one guard in front of every route but `/healthz`, the
API pages (`api_docs.PUBLIC_PATHS`) and Twilio's webhooks (signed by Twilio instead).

A caller sends its key in the `X-API-Key` header. The key is compared with every configured key,
each time, in constant time: what is compared are HMAC-SHA-256 digests under a key drawn when the
process starts, so the comparisons are of equal length (no key's length leaks) and nothing kept
in memory is a key. The rate limit is a token bucket per key, found by that digest.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable

from fastapi import HTTPException, Security
from fastapi.security import APIKeyHeader

from glimpse_assets.serve.errors import ErrorDetail

API_KEY_HEADER = "X-API-Key"
INVALID_KEY = "missing or invalid API key"
ANONYMOUS = b"anonymous"  # the one bucket every caller shares when the service runs --no-auth


GUARDED_RESPONSES = {
    401: {
        "model": ErrorDetail,
        "description": f"No `{API_KEY_HEADER}` header, or a wrong key",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": "ApiKey"}}},
    },
    429: {
        "model": ErrorDetail,
        "description": "Over the key's rate limit",
        "headers": {
            "Retry-After": {
                "description": "Seconds until the key may send a request again",
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    },
}


class TokenBucket:
    """`burst` tokens, refilled at `rate` a second; each request takes one.

    `clock` is a monotonic clock in seconds (injectable, so tests need no sleeping).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a positive number of tokens a second, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 if one was there, else the seconds until one will be (none taken)."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


def retry_after(wait: float) -> str:
    """A `Retry-After` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


class RateLimiter:
    """One `TokenBucket` per caller id (a key's digest), made on first use."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        TokenBucket(rate, burst, clock)  # rejects a bad rate or burst now, not at a request
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[bytes, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, caller: bytes) -> float:
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = TokenBucket(self.rate, self.burst, self._clock)
        return bucket.take()

    def check(self, caller: bytes) -> None:
        """Raise the 429 when `caller` is over its limit."""
        wait = self.take(caller)
        if wait > 0:
            raise HTTPException(
                status_code=429,
                detail=(
                    f"rate limit exceeded ({self.rate:g} requests a second, bursts of "
                    f"{self.burst}); retry after {retry_after(wait)} s"
                ),
                headers={"Retry-After": retry_after(wait)},
            )


class KeyRing:
    """The configured keys as digests; `match` compares a candidate with all of them."""

    def __init__(self, keys: Iterable[str]):
        self._secret = secrets.token_bytes(32)
        self._digests = [self.digest(key) for key in keys]

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self)} keys>)"

    def digest(self, key: str) -> bytes:
        return hmac.new(self._secret, key.encode("utf-8", "surrogateescape"), "sha256").digest()

    def match(self, candidate: str | None) -> bytes | None:
        """The candidate's digest if it is one of the keys, else None. Every key is compared,
        and the result does not depend on which one matched."""
        if not candidate:
            return None
        digest = self.digest(candidate)
        found = False
        for known in self._digests:
            found |= hmac.compare_digest(digest, known)
        return digest if found else None


_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKey",
    description="One of the keys in GLIMPSE_API_KEYS; each key has its own rate limit.",
    auto_error=False,
)


class ApiKeyGuard:
    """The FastAPI dependency: a valid key (401 otherwise), then the key's rate limit (429)."""

    def __init__(self, keys: KeyRing, limiter: RateLimiter):
        self.keys = keys
        self.limiter = limiter

    async def __call__(self, api_key: str | None = Security(_api_key_header)) -> None:
        caller = self.keys.match(api_key)
        if caller is None:
            raise HTTPException(
                status_code=401, detail=INVALID_KEY, headers={"WWW-Authenticate": "ApiKey"}
            )
        self.limiter.check(caller)


class OpenGuard:
    """`--no-auth`: no key asked for; every caller shares one rate limit."""

    def __init__(self, limiter: RateLimiter):
        self.limiter = limiter

    async def __call__(self) -> None:
        self.limiter.check(ANONYMOUS)
