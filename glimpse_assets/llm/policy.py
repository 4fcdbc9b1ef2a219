"""What every LLM step shares, kept apart from the gateway so that loading the code location
does not import the OpenAI stack: the `llm` pool, the `force` switch and the retry policy."""

import dagster as dg
from pydantic import Field

FORCE_TAG = "force"
LLM_POOL = "llm"


class LLMStepConfig(dg.Config):
    force: bool = Field(
        default=False, description="Call the provider again even where a cached answer exists."
    )


def llm_retry_policy() -> dg.RetryPolicy:
    """For what outlived the SDK's own retries (a long outage, a rate limit): try the step again
    later. Rejected answers, budget stops and non-retryable 4xx bypass it (Failure with
    allow_retries=False)."""
    return dg.RetryPolicy(
        max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )
