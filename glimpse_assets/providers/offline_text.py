"""Offline text: extractive, not an LLM. TF-IDF keywords and key sentences composed into a
fixed template (see `extractive`, loaded when the first text is written; its TF-IDF is
`providers.tfidf`, numpy).

The composer strips URLs and markup from its material, so its output passes the same checks
as a model's; should it ever fail them, the step fails at once with the reason (a non-retryable
`dagster.Failure`): the same input would give the same output again.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from glimpse_assets.providers.base import (
    RideConditions,
    TextProvider,
    TextRequest,
    TextResult,
    output_errors_fail,
)
from glimpse_assets.providers.prompts import SUMMARY_MAX_SENTENCES

OFFLINE_METHOD = "extractive, not an LLM: TF-IDF keywords and key sentence in a fixed template"
OFFLINE_SUMMARY_METHOD = "extractive, not an LLM: the most informative condition sentences"


class OfflineTextProvider(TextProvider):
    """Deterministic and network-free; its results say they are extractive, not an LLM."""

    def write_image_prompt(
        self, context: dg.AssetExecutionContext, digest: dict, force: bool = False
    ) -> TextResult:
        from glimpse_assets.providers.extractive import compose_image_prompt

        with output_errors_fail(f"the offline image prompt for {digest.get('day', 'the day')}"):
            text = compose_image_prompt(digest)
        return TextResult(
            text=text, provider="offline", model="tfidf-extractive", method=OFFLINE_METHOD
        )

    def summarise_conditions(
        self,
        context: dg.AssetExecutionContext,
        conditions: list[RideConditions],
        force: bool = False,
    ) -> list[TextResult]:
        from glimpse_assets.providers.extractive import extractive_summary

        results = []
        for item in conditions:
            with output_errors_fail(f"the offline summary of the conditions in {item.city}"):
                text = extractive_summary(item, SUMMARY_MAX_SENTENCES)
            results.append(
                TextResult(
                    text=text,
                    provider="offline",
                    model="tfidf-extractive",
                    method=OFFLINE_SUMMARY_METHOD,
                )
            )
        return results

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
