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
    """No step retries: every outside call already has its one retry budget in its client (the
    openai SDK retries a 429, 5xx, connection error or timeout GLIMPSE_LLM_MAX_RETRIES times),
    and a step retry would multiply it. A failure that outlives the SDK's retries, a rejected
    answer, a budget stop or a 4xx fails the step once, and the run once (run retries are for
    crashed runs only, see dagster.yaml). An explicit zero rather than no policy, so that a job's
    `op_retry_policy` cannot add retries to these steps either."""
    return dg.RetryPolicy(max_retries=0)
