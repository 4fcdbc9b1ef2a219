"""A day's bounds and a day's seed: the two facts about a calendar day every domain agrees on.

A day is a UTC date: its articles, rides and posts fall between `day_bounds(day)`, and whatever is
drawn at random for it (sample news, simulated rides, invented conditions) is drawn from
`day_seed(day, salt)`, so the same day always gives the same draw, and each salt its own.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC midnight that starts `day` (included) and the one that ends it (excluded)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def day_seed(day: date, salt: str = "") -> int:
    """A 64-bit seed from `salt` and the day: the first 8 bytes of their SHA-256."""
    digest = hashlib.sha256(f"{salt}{day.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
