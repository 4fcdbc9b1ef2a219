"""Blocking SMS work (storage, search, the model) on threads of the SMS routes' own, waited for
asynchronously and never past a deadline.

FastAPI runs blocking calls on one shared pool (anyio's, 40 threads) that every route uses: a
burst of texts each waiting seconds for a slow model held all of it, and `/search` waited
behind them. Here a webhook's work goes to a `ThreadWaiter`'s own bounded pool and the route
awaits it on the event loop, which holds no thread. A burst larger than the pool waits in the
pool's queue, and a stalled storage holds only the pool's threads: either way `run` gives up at
the deadline (`TimeoutError`) and the route answers without it. The work itself is not
cancelled (a STOP still being written is better written late than not at all); the work checks
the deadline itself before it starts anything that can wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def _consume(future: Future | asyncio.Future) -> None:
    """Take an abandoned call's outcome, so that its error is not reported as never retrieved
    (the call logs what matters itself)."""
    with contextlib.suppress(BaseException):
        future.exception()


class ThreadWaiter:
    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)

    async def run(self, seconds: float, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)`'s result, or `TimeoutError` after `seconds` (the call goes on)."""
        future = self._pool.submit(call, *args)
        future.add_done_callback(_consume)
        waited = asyncio.wrap_future(future)
        waited.add_done_callback(_consume)
        return await asyncio.wait_for(asyncio.shield(waited), timeout=max(seconds, 0.0))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
