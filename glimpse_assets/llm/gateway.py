"""Every paid provider call goes through `LLMCalls.run`:

1. cache: a response already stored for the exact same request to the same server is used, not
   paid for again (unless the step asks for `force`: run config `force: true` or the run tag
   `force=true`); the key is in `llm.cache`;
2. budget: the uncached calls' worst-case cost is reserved in today's spend record before
   anything is sent, refused if it does not fit GLIMPSE_DAILY_BUDGET_USD (`llm.budget`), and
   settled to what the answers cost afterwards;
3. calls: sent concurrently, at most `max_concurrency` in flight;
4. checking: each answer is parsed and validated before it is cached or stored; a rejected
   answer is still counted as spent;
5. accounting: requests, cache hits and misses, tokens, images and estimated USD become the
   step's metadata, and the same per model under the keys dagster-openai's
   `with_usage_metadata` writes (`openai.<model>.calls`, `.total_tokens`, `.prompt_tokens`,
   `.completion_tokens`; `<model>` as the server answered it), counting requests sent, not
   cache hits; API keys are scrubbed from every error message.

The client comes from the `OpenAIClient` resource (dagster-openai's `OpenAIResource`: key, base
URL, organisation, project; `providers.openai_client`), one per batch of calls.

Retries: each call has one retry budget, the openai SDK's. It retries a 429, 408, 409, 5xx, a
connection error or a timeout `max_retries` times (GLIMPSE_LLM_MAX_RETRIES, default 2), waiting
0.5 s, 1 s, 2 s ... (at most 8 s, less up to 25 % jitter) or the server's Retry-After when that
is at most 120 s (a longer one is not retried). Nothing retries after it: what outlives those
retries, any other 4xx, an unreadable answer, a rejected answer and a budget stop fail the step
with `allow_retries=False`, the LLM steps' retry policy is `max_retries=0` (`llm.policy`), and
run retries skip runs that failed in a step (`retry_on_asset_or_op_failure: false` in
dagster.yaml). Worst case for one call, with R retries and a timeout of T seconds:

    requests  = 1 + R                                     defaults: 3
    wall time = (1 + R) * T + R * 120 s (Retry-After)     defaults: 3 * 120 + 2 * 120 = 600 s
              = (1 + R) * T + sum(min(0.5 * 2**i, 8))     without Retry-After: 361.5 s

T bounds each wait of a request (connecting, then each read), so an answer trickling in slower
than that could take longer; the APIs send a whole answer at once. A step with N uncached calls
sends at most N * (1 + R) requests and takes about ceil(N / max_concurrency) times the per-call
wall time. A crashed run (not a failed step) is re-run from failure up to twice: answers already
received are cached, only the call in flight at the crash is sent again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from glimpse_assets.llm.budget import (
    BUDGET_PREFIX,
    COST_METADATA_KEY,
    BudgetLedger,
    Reservation,
    Spend,
)
from glimpse_assets.llm.cache import CACHE_PREFIX, ResponseCache, cache_key, server_identity
from glimpse_assets.llm.guardrails import redact
from glimpse_assets.llm.policy import FORCE_TAG
from glimpse_assets.llm.prices import load_prices
from glimpse_assets.providers.base import ProviderOutputError
from glimpse_assets.settings import ProviderSettings, setting
from glimpse_assets.storage.resource import ObjectStoreResource


class ProviderCallError(dg.Failure):
    """A provider call failed after the SDK's retries, or got no readable answer: not retried
    again, neither by Dagster's step retries nor by run retries."""

    def __init__(self, description: str):
        super().__init__(description=description, allow_retries=False)


@dataclass(frozen=True)
class CallSpec:
    """One request: `endpoint` is "chat", "images", "moderations" or "embeddings"; `request` its
    JSON body."""

    endpoint: str
    model: str
    request: dict[str, Any]
    estimate_usd: float | None  # worst case, for the budget guard; None when no price is known


# What dagster-openai's usage wrapper reads from an answer's `usage`, in its key order.
OPENAI_USAGE_FIELDS = ("total_tokens", "prompt_tokens", "completion_tokens")


@dataclass
class CallStats:
    requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    max_in_flight: int = 0
    # Per model as the server named it: calls and tokens, as dagster-openai records them.
    by_model: dict[str, dict[str, int]] = field(default_factory=dict)

    def count_answer(self, model: str, response: dict[str, Any]) -> None:
        """One answer received from `model`: a call, and the tokens its usage reports (the
        fields dagster-openai's `with_usage_metadata` reads, when the answer has them)."""
        counts = self.by_model.setdefault(str(response.get("model") or model), {})
        counts["calls"] = counts.get("calls", 0) + 1
        usage = response.get("usage") or {}
        for name in OPENAI_USAGE_FIELDS:
            if isinstance(usage.get(name), int):
                counts[name] = counts.get(name, 0) + usage[name]

    def openai_metadata(self) -> dict[str, int]:
        """`openai.<model>.calls`, `.total_tokens`, `.prompt_tokens`, `.completion_tokens`."""
        return {
            f"openai.{model}.{name}": count
            for model, counts in sorted(self.by_model.items())
            for name, count in counts.items()
        }

    def metadata(self) -> dict[str, Any]:
        return {
            "llm_requests": self.requests,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            **{f"usage_{name}": count for name, count in sorted(self.usage.items())},
            COST_METADATA_KEY: round(self.cost_usd, 6),
            "unpriced_calls": self.unpriced_calls,
            "max_in_flight": self.max_in_flight,
            **self.openai_metadata(),
        }


def is_forced(context: Any, force: bool) -> bool:
    tag = str(context.run.tags.get(FORCE_TAG, "")).strip().lower() if context is not None else ""
    return force or tag in {"1", "true", "yes"}


def step_identity(context: Any) -> tuple[str, str] | None:
    """(run id, op name) of the step making calls, or None outside a step."""
    op_context = getattr(context, "op_execution_context", None)
    if op_context is None:
        return None
    return op_context.run_id, op_context.op.name


class _InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.now -= 1


def _send(client: Any, spec: CallSpec) -> dict[str, Any]:
    if spec.endpoint == "chat":
        response = client.chat.completions.create(**spec.request)
    elif spec.endpoint == "images":
        response = client.images.generate(**spec.request)
    elif spec.endpoint == "moderations":
        response = client.moderations.create(**spec.request)
    elif spec.endpoint == "embeddings":
        response = client.embeddings.create(**spec.request)
    else:
        raise ValueError(f"unknown endpoint {spec.endpoint!r}")
    if not hasattr(response, "model_dump"):  # e.g. an HTML page from a wrong base URL
        raise dg.Failure(
            description=f"{spec.endpoint} call to {spec.model} got a {type(response).__name__} "
            "instead of an API answer: is OPENAI_BASE_URL the API's /v1 address?",
            allow_retries=False,
        )
    return response.model_dump(mode="json")


class LLMCalls(dg.ConfigurableResource):
    """Cache, budget, concurrency, retries and accounting for the openai providers."""

    object_store: ObjectStoreResource
    daily_budget_usd: float | None = setting(
        ProviderSettings, "daily_budget_usd", ge=0, allow_inf_nan=False
    )
    prices_file: str | None = setting(ProviderSettings, "prices_file")
    max_concurrency: int = setting(ProviderSettings, "max_concurrency", ge=1)
    max_retries: int = setting(ProviderSettings, "max_retries", ge=0, le=10)
    timeout_seconds: float = setting(ProviderSettings, "timeout_seconds", gt=0, allow_inf_nan=False)

    _ledger: BudgetLedger | None = PrivateAttr(default=None)

    def prices(self):
        return load_prices(self.prices_file)

    def ledger(self) -> BudgetLedger:
        """Today's spend record (`_budget/<UTC day>.json` in the object store)."""
        if self._ledger is None:
            self._ledger = BudgetLedger(
                self.object_store.records(BUDGET_PREFIX), self.daily_budget_usd
            )
        return self._ledger

    def run(
        self,
        context: Any,
        client: Any,
        specs: list[CallSpec],
        parse: Callable[[CallSpec, dict[str, Any]], Any],
        cost: Callable[[CallSpec, dict[str, Any]], float | None],
        usage: Callable[[dict[str, Any]], dict[str, int]],
        secrets: list[str],
        force: bool = False,
    ) -> tuple[list[Any], CallStats]:
        """The parsed answer for each spec, in order, and what getting them took."""
        cache = ResponseCache(self.object_store.records(CACHE_PREFIX))
        # The client's own base URL: the resource's, else OPENAI_BASE_URL, else the SDK default.
        server = server_identity(getattr(client, "base_url", None))
        keys = [
            ResponseCache.entry_name(
                "openai",
                spec.model,
                spec.endpoint,
                cache_key("openai", spec.model, spec.endpoint, spec.request, server=server),
            )
            for spec in specs
        ]
        try:
            return self._run(
                context, client, server, specs, keys, cache, parse, cost, usage, secrets, force
            )
        except ProviderOutputError as error:  # a rejected answer: retrying the same call won't help
            raise dg.Failure(description=str(error), allow_retries=False) from error

    def _run(self, context, client, server, specs, keys, cache, parse, cost, usage, secrets, force):
        forced = is_forced(context, force)
        stats = CallStats()
        results: list[Any] = [None] * len(specs)
        misses = []
        for index, (spec, key) in enumerate(zip(specs, keys, strict=True)):
            cached = None if forced else cache.get(key)
            if cached is None:
                misses.append(index)
            else:
                results[index] = parse(spec, cached)
                stats.cache_hits += 1
        stats.cache_misses = len(misses)
        if not misses:
            return results, stats
        reservation = self._reserve(context, [specs[i] for i in misses])

        client = client.with_options(max_retries=self.max_retries, timeout=self.timeout_seconds)
        in_flight = _InFlight()
        lock = threading.Lock()
        spend = Spend()

        import openai  # the SDK loads with the first step that calls a provider

        def call(index: int) -> None:
            spec = specs[index]
            try:
                with in_flight:
                    response = _send(client, spec)
            except openai.APIStatusError as error:
                body = error.body if isinstance(error.body, dict) else {}
                detail = body.get("message") or error.message
                message = redact(
                    f"{spec.endpoint} call to {spec.model} failed: HTTP {error.status_code}: "
                    f"{detail}",
                    secrets,
                )
                if error.status_code in (408, 409, 429) or error.status_code >= 500:
                    raise ProviderCallError(
                        f"{message} (after {self.max_retries} retries)"
                    ) from None
                raise dg.Failure(description=message, allow_retries=False) from None
            except (openai.OpenAIError, ValueError) as error:  # connection, timeout, broken JSON
                raise ProviderCallError(
                    redact(f"{spec.endpoint} call to {spec.model} failed: {error}", secrets)
                ) from None
            # An answer came back: it was paid for, whether or not it passes the checks below.
            spent = cost(spec, response)
            with lock:
                stats.requests += 1
                stats.count_answer(spec.model, response)
                if spent is None:  # counted at its worst case, if one is known
                    stats.unpriced_calls += 1
                    spend.unpriced_calls += 1
                    charged = spec.estimate_usd or 0.0
                else:
                    stats.cost_usd += spent
                    charged = spent
                spend.usd += charged
                spend.paid_calls += 1
            try:
                parsed = parse(spec, response)  # a rejected answer is never cached
            except ProviderOutputError as error:
                with lock:
                    spend.rejected_calls += 1
                    spend.rejected_usd += charged
                raise dg.Failure(
                    description=str(error),
                    allow_retries=False,
                    metadata={"rejected_answer_cost_usd": round(charged, 6)},
                ) from error
            cache.put(keys[index], spec.request, response, server)
            with lock:
                results[index] = parsed
                for name, count in usage(response).items():
                    stats.usage[name] = stats.usage.get(name, 0) + count

        try:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(misses))) as pool:
                list(pool.map(call, misses))
        except BaseException:
            self._settle(context, reservation, spend, quietly=True)
            raise
        self._settle(context, reservation, spend)
        stats.max_in_flight = in_flight.most
        return results, stats

    def _reserve(self, context: Any, uncached: list[CallSpec]) -> Reservation:
        if self.daily_budget_usd is not None:
            unpriced = sorted({spec.model for spec in uncached if spec.estimate_usd is None})
            if unpriced:
                raise dg.Failure(
                    description=f"GLIMPSE_DAILY_BUDGET_USD is set but no price is known for "
                    f"{', '.join(unpriced)}: add it to GLIMPSE_PRICES_FILE. Nothing was called.",
                    allow_retries=False,
                )
        estimate = sum(spec.estimate_usd or 0.0 for spec in uncached)
        run_id, step = step_identity(context) or (None, None)
        return self.ledger().reserve(estimate, len(uncached), {"run_id": run_id, "step": step})

    def _settle(
        self, context: Any, reservation: Reservation, spend: Spend, quietly: bool = False
    ) -> None:
        """After a failure (`quietly`), a spend record that cannot be written is logged rather
        than hiding the failure; the reservation then stays counted."""
        try:
            self.ledger().settle(reservation, spend)
        except Exception as error:
            if not quietly:
                raise
            log = getattr(context, "log", None)
            if log is not None:
                log.error(f"could not settle budget reservation {reservation.id}: {error}")
