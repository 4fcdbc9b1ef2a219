"""Offline text: no model. Each request brings its own `offline` writer (a domain's extractive
or template text, e.g. `news/image_prompt.compose_image_prompt`), and the result says which
model and method wrote it, in the domain's words.

A domain's offline writer is held to the same checks as a model's answer; should it ever fail
them, the step fails at once with the reason (a non-retryable `dagster.Failure`): the same input
would give the same output again.
"""

from __future__ import annotations

from typing import Any

from glimpse_assets.providers.base import (
    TextProvider,
    TextRequest,
    TextResult,
    output_errors_fail,
)


class OfflineTextProvider(TextProvider):
    """Deterministic and network-free; its results say how they were written (not an LLM)."""

    def complete(
        self, context: Any, requests: list[TextRequest], force: bool = False
    ) -> list[TextResult]:
        results = []
        for request in requests:
            with output_errors_fail(request.label):
                text = request.offline()
            results.append(
                TextResult(
                    text=text,
                    provider="offline",
                    model=request.offline_model,
                    method=request.offline_method,
                )
            )
        return results
