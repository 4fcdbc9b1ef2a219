"""What `glimpse serve` remembers about SMS senders, in its own memory and nowhere else.

* `ConversationMemory`: the last `turns` exchanges (question, reply) of each sender, keyed by
  `person_id`, forgotten `ttl_seconds` (24 h) after the latest one, so a follow-up question is
  answered with the earlier ones in the prompt.
* `SenderLimit`: how many questions each sender asked in the last hour (a sliding window).

Both live in the service process's memory on purpose: the issue allows message bodies in no
stored text, and a question is a message body. Both are bounded (`max_people` senders, the
least recently seen forgotten first) and lost when the process stops. The limit of it: several
`glimpse serve` processes (behind one load balancer) each remember their own senders, so a
follow-up that reaches another process is answered without its history, and the rate limit is
per process (at most N times the hourly limit with N processes). Route a sender to one process
(Twilio posts from its own addresses, so by `From` hashing at the balancer) to keep both exact.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

DAY_SECONDS = 24 * 3600.0
HOUR_SECONDS = 3600.0
MAX_PEOPLE = 10_000


@dataclass
class _Thread:
    exchanges: deque = field(default_factory=deque)  # (question, reply, the reply's chunk)
    updated: float = 0.0


class ConversationMemory:
    def __init__(
        self,
        turns: int = 3,
        ttl_seconds: float = DAY_SECONDS,
        max_people: int = MAX_PEOPLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.turns, self.ttl_seconds, self.max_people = turns, ttl_seconds, max_people
        self._clock = clock
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._threads)

    def _expire(self, now: float) -> None:
        # Oldest first: stop at the first one still fresh.
        while self._threads:
            person, thread = next(iter(self._threads.items()))
            if now - thread.updated < self.ttl_seconds:
                break
            del self._threads[person]

    def history(self, person: str) -> list[tuple[str, str, dict | None]]:
        """The sender's remembered exchanges, oldest first (empty after 24 h of silence)."""
        with self._lock:
            self._expire(self._clock())
            thread = self._threads.get(person)
            return list(thread.exchanges) if thread else []

    def remember(self, person: str, question: str, reply: str, chunk: dict | None) -> None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            thread = self._threads.pop(person, None) or _Thread(deque(maxlen=self.turns))
            thread.exchanges.append((question, reply, chunk))
            thread.updated = now
            self._threads[person] = thread  # now the most recent
            while len(self._threads) > self.max_people:
                self._threads.popitem(last=False)

    def forget(self, person: str) -> None:
        with self._lock:
            self._threads.pop(person, None)


class SenderLimit:
    """At most `per_hour` questions per sender in any hour."""

    def __init__(
        self,
        per_hour: int,
        max_people: int = MAX_PEOPLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_hour, self.max_people = per_hour, max_people
        self._clock = clock
        self._asked: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, person: str) -> bool:
        """Count a question: True if it is within the limit (then it counts), else False."""
        with self._lock:
            now = self._clock()
            times = self._asked.pop(person, None) or deque()
            while times and now - times[0] >= HOUR_SECONDS:
                times.popleft()
            allowed = len(times) < self.per_hour
            if allowed:
                times.append(now)
            if times:
                self._asked[person] = times
            while len(self._asked) > self.max_people:
                self._asked.popitem(last=False)
            return allowed
