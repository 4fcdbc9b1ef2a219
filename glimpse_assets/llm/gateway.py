"""Every paid provider call goes through `LLMCalls.run`:

1. cache: a response already stored for the exact same request is used, not paid for again
   (unless the step asks for `force`: run config `force: true` or the run tag `force=true`);
2. budget: the uncached calls' worst-case cost is checked against GLIMPSE_DAILY_BUDGET_USD
   before anything is sent;
3. calls: sent concurrently, at most `max_concurrency` in flight; the openai SDK retries 429,
   5xx, connection errors and timeouts with exponential backoff and jitter, honouring
   Retry-After; any other 4xx fails at once, and is not retried by Dagster either;
4. checking: each answer is parsed and validated before it is cached or stored;
5. accounting: requests, cache hits and misses, tokens, images and estimated USD become the
   step's metadata; API keys are scrubbed from every error message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from glimpse_assets.llm.budget import (
    COST_METADATA_KEY,
    budget_asset_keys,
    check_budget,
    spent_since,
    utc_midnight,
)
from glimpse_assets.llm.cache import CACHE_PREFIX, ResponseCache, cache_key
from glimpse_assets.llm.guardrails import redact
from glimpse_assets.llm.policy import FORCE_TAG
from glimpse_assets.llm.prices import load_prices
from glimpse_assets.providers.base import ProviderOutputError
from glimpse_assets.storage.resource import ObjectStoreResource


class ProviderCallError(RuntimeError):
    """A provider call failed after the SDK's retries; Dagster's retry policy may try again."""


@dataclass(frozen=True)
class CallSpec:
    """One request: `endpoint` is "chat", "images" or "moderations"; `request` its JSON body."""

    endpoint: str
    model: str
    request: dict[str, Any]
    estimate_usd: float | None  # worst case, for the budget guard; None when no price is known


@dataclass
class CallStats:
    requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    max_in_flight: int = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "llm_requests": self.requests,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            **{f"usage_{name}": count for name, count in sorted(self.usage.items())},
            COST_METADATA_KEY: round(self.cost_usd, 6),
            "unpriced_calls": self.unpriced_calls,
            "max_in_flight": self.max_in_flight,
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
    daily_budget_usd: float | None = Field(
        default=None,
        description="GLIMPSE_DAILY_BUDGET_USD: the spend of every asset in the llm "
        "pool counts against it.",
    )
    prices_file: str | None = Field(default=None, description="GLIMPSE_PRICES_FILE")
    max_concurrency: int = Field(default=8, ge=1, description="GLIMPSE_LLM_MAX_CONCURRENCY")
    max_retries: int = Field(default=4, ge=0, description="GLIMPSE_LLM_MAX_RETRIES")
    timeout_seconds: float = Field(default=120.0, gt=0, description="GLIMPSE_LLM_TIMEOUT_SECONDS")

    # Spend of calls already made by a step that has not recorded it yet: a step over a chunk of
    # days records cost_usd only when it ends, so the budget guard adds this for its later days.
    _unrecorded_usd: dict[tuple[str, str], float] = PrivateAttr(default_factory=dict)

    def prices(self):
        return load_prices(self.prices_file)

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
        keys = [
            ResponseCache.entry_name(
                "openai",
                spec.model,
                spec.endpoint,
                cache_key("openai", spec.model, spec.endpoint, spec.request),
            )
            for spec in specs
        ]
        try:
            return self._run(
                context, client, specs, keys, cache, parse, cost, usage, secrets, force
            )
        except ProviderOutputError as error:  # a rejected answer: retrying the same call won't help
            raise dg.Failure(description=str(error), allow_retries=False) from error

    def _run(self, context, client, specs, keys, cache, parse, cost, usage, secrets, force):
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
        self._guard_budget(context, [specs[i] for i in misses])

        client = client.with_options(max_retries=self.max_retries, timeout=self.timeout_seconds)
        in_flight = _InFlight()
        lock = threading.Lock()

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
                    raise ProviderCallError(message) from None
                raise dg.Failure(description=message, allow_retries=False) from None
            except (openai.OpenAIError, ValueError) as error:  # connection, timeout, broken JSON
                raise ProviderCallError(
                    redact(f"{spec.endpoint} call to {spec.model} failed: {error}", secrets)
                ) from None
            parsed = parse(spec, response)  # a rejected answer is never cached
            cache.put(keys[index], spec.request, response)
            with lock:
                results[index] = parsed
                stats.requests += 1
                for name, count in usage(response).items():
                    stats.usage[name] = stats.usage.get(name, 0) + count
                spent = cost(spec, response)
                if spent is None:
                    stats.unpriced_calls += 1
                else:
                    stats.cost_usd += spent

        if misses:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(misses))) as pool:
                list(pool.map(call, misses))
        stats.max_in_flight = in_flight.most
        step = step_identity(context)
        if step is not None:
            self._unrecorded_usd[step] = self._unrecorded_usd.get(step, 0.0) + stats.cost_usd
        return results, stats

    def _guard_budget(self, context: Any, uncached: list[CallSpec]) -> None:
        if self.daily_budget_usd is None or not uncached:
            return
        unpriced = sorted({spec.model for spec in uncached if spec.estimate_usd is None})
        if unpriced:
            raise dg.Failure(
                description=f"GLIMPSE_DAILY_BUDGET_USD is set but no price is known for "
                f"{', '.join(unpriced)}: add it to GLIMPSE_PRICES_FILE. Nothing was called.",
                allow_retries=False,
            )
        estimate = sum(spec.estimate_usd or 0.0 for spec in uncached)
        since = utc_midnight(datetime.now(UTC))
        spent = spent_since(context.instance, budget_asset_keys(context), since)
        spent += self._unrecorded_usd.get(step_identity(context), 0.0)
        check_budget(self.daily_budget_usd, spent, estimate, len(uncached))
