"""The daily budget: one spend record per UTC day in the object store, reserved before a call and
settled after it.

`_budget/<YYYY-MM-DD>.json` (UTC day) holds what every LLM call made with this storage spent that
day, whichever run, process, machine or Dagster instance made it, and what calls in flight have
reserved:

    {"day": "2026-03-02", "spent_usd": 0.42, "paid_calls": 7, "rejected_calls": 1,
     "rejected_usd": 0.03, "unpriced_calls": 0,
     "reserved": {"<id>": {"usd": 0.4, "calls": 1, "run_id": "...", "step": "image_prompt",
                           "at": "2026-03-02T10:00:00+00:00"}}}

Before a step sends its uncached calls, it reserves their worst-case cost: refused (nothing sent)
if spent + reserved + this estimate would pass GLIMPSE_DAILY_BUDGET_USD. After the calls, the
reservation is replaced by what they cost: every answer received counts, also one the parser or a
guardrail rejected (it was paid for); a call that got no answer (an HTTP error, a timeout) counts
nothing. Every change is a read-modify-replace with the etag read (`JsonRecords.replace`, retried
on `ObjectChangedError`), so two runs can never both take the same remaining money.

This record, not the event log's `cost_usd` metadata, is what the guard reads: it is written
before a call (so concurrent runs see each other's calls in flight) and after it whatever the
step's outcome (a step that fails records no materialisation, yet paid for what it was sent), it
counts the moderation check (a check, not an asset) and it lives beside the response cache, shared
by every run using this storage. `cost_usd` stays in each materialisation's metadata as the
report of what that materialisation spent.

A reservation whose process died (killed, out of memory) is never settled: it stays counted, as
the call may have been paid, until the day ends. Delete its entry under "reserved" to release it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from glimpse_assets.llm.policy import LLM_POOL
from glimpse_assets.storage.object_store import (
    AlreadyExistsError,
    ObjectChangedError,
    StorageError,
)
from glimpse_assets.storage.records import JsonRecords

COST_METADATA_KEY = "cost_usd"
BUDGET_PREFIX = "_budget"
_UPDATE_ATTEMPTS = 200


class BudgetExceededError(dg.Failure):
    """Raised before any call, so nothing is spent; never retried."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


def utc_day(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()


def _pooled(pairs: Iterable[tuple[dg.AssetKey, dg.AssetsDefinition]]) -> list[dg.AssetKey]:
    return sorted(
        {
            key
            for key, assets_def in pairs
            if assets_def.is_executable
            and LLM_POOL in {node.pool for node in assets_def.node_def.iterate_op_defs()}
        },
        key=lambda key: key.to_user_string(),
    )


def llm_asset_keys(repository: dg.RepositoryDefinition) -> list[dg.AssetKey]:
    """Every asset whose step runs in the `llm` pool: the assets that call the gateway, found by
    what they declare. Their calls (and those of any check that calls it) count against the
    budget through the spend record, whatever domain or code location they belong to."""
    return _pooled(repository.assets_defs_by_key.items())


@dataclass
class Spend:
    """What a step's calls cost, to settle a reservation with."""

    usd: float = 0.0
    paid_calls: int = 0
    rejected_calls: int = 0
    rejected_usd: float = 0.0
    unpriced_calls: int = 0


@dataclass(frozen=True)
class Reservation:
    day: str
    id: str
    usd: float


def _empty(day: str) -> dict[str, Any]:
    return {
        "day": day,
        "spent_usd": 0.0,
        "paid_calls": 0,
        "rejected_calls": 0,
        "rejected_usd": 0.0,
        "unpriced_calls": 0,
        "reserved": {},
    }


def _money(value: float) -> float:
    return round(value, 9)  # float sums drift; a nano-dollar is below any price


def reserved_usd(record: dict[str, Any]) -> float:
    return sum(entry["usd"] for entry in record.get("reserved", {}).values())


class BudgetLedger:
    """The spend records under `_budget/`; `budget_usd` None records spend without a limit."""

    def __init__(
        self,
        records: JsonRecords,
        budget_usd: float | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.records = records
        self.budget_usd = budget_usd
        self.clock = clock

    def today(self) -> dict[str, Any]:
        day = utc_day(self.clock())
        return self.records.get(day) or _empty(day)

    def reserve(
        self, estimate_usd: float, calls: int, holder: dict[str, str | None]
    ) -> Reservation:
        """Take `estimate_usd` of today's budget for `calls` calls about to be sent, or raise
        `BudgetExceededError` (nothing taken) if it does not fit."""
        now = self.clock()
        day, reservation_id, estimate = utc_day(now), uuid.uuid4().hex, _money(estimate_usd)

        def take(record: dict[str, Any]) -> dict[str, Any]:
            spent, reserved = record["spent_usd"], reserved_usd(record)
            if self.budget_usd is not None and spent + reserved + estimate > self.budget_usd:
                in_flight = (
                    f" and {reserved:.4f} USD is reserved by calls in flight" if reserved else ""
                )
                raise BudgetExceededError(
                    f"GLIMPSE_DAILY_BUDGET_USD is ${self.budget_usd:.4f}: {spent:.4f} USD is "
                    f"already spent today (UTC){in_flight} and this step would spend up to "
                    f"{estimate:.4f} USD more on {calls} uncached call(s), "
                    f"{spent + reserved + estimate:.4f} USD in all. Nothing was called."
                )
            record["reserved"][reservation_id] = {
                "usd": estimate,
                "calls": calls,
                **holder,
                "at": now.isoformat(timespec="seconds"),
            }
            return record

        self._update(day, take)
        return Reservation(day, reservation_id, estimate)

    def settle(self, reservation: Reservation, spend: Spend) -> None:
        """Replace the reservation by what the calls cost (released entirely if nothing)."""

        def settle(record: dict[str, Any]) -> dict[str, Any]:
            record["reserved"].pop(reservation.id, None)
            record["spent_usd"] = _money(record["spent_usd"] + spend.usd)
            record["rejected_usd"] = _money(record["rejected_usd"] + spend.rejected_usd)
            for name in ("paid_calls", "rejected_calls", "unpriced_calls"):
                record[name] += getattr(spend, name)
            return record

        self._update(reservation.day, settle)

    def _update(self, day: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Read-modify-replace until no other writer got in between."""
        for attempt in range(_UPDATE_ATTEMPTS):
            current = self.records.get_versioned(day)
            record = _empty(day) if current is None else {**_empty(day), **current[0]}
            record = change(record)
            try:
                if current is None:
                    self.records.create(day, record)
                else:
                    self.records.replace(day, record, current[1])
                return
            except (AlreadyExistsError, ObjectChangedError):
                time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))
        raise StorageError(
            f"{self.records.uri(day)} kept changing while it was being updated "
            f"({_UPDATE_ATTEMPTS} attempts)"
        )
