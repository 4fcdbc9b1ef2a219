"""Offline text: extractive, not an LLM. TF-IDF keywords and key sentences composed into a
fixed template (see `extractive`, loaded with scikit-learn when the first text is written)."""

from __future__ import annotations

import dagster as dg

from glimpse_assets.providers.base import RideConditions, TextProvider, TextResult
from glimpse_assets.providers.prompts import SUMMARY_MAX_SENTENCES

OFFLINE_METHOD = "extractive, not an LLM: TF-IDF keywords and key sentence in a fixed template"
OFFLINE_SUMMARY_METHOD = "extractive, not an LLM: the most informative condition sentences"


class OfflineTextProvider(TextProvider):
    """Deterministic and network-free; its results say they are extractive, not an LLM."""

    def write_image_prompt(
        self, context: dg.AssetExecutionContext, digest: dict, force: bool = False
    ) -> TextResult:
        from glimpse_assets.providers.extractive import compose_image_prompt

        return TextResult(
            text=compose_image_prompt(digest),
            provider="offline",
            model="tfidf-extractive",
            method=OFFLINE_METHOD,
        )

    def summarise_conditions(
        self,
        context: dg.AssetExecutionContext,
        conditions: list[RideConditions],
        force: bool = False,
    ) -> list[TextResult]:
        from glimpse_assets.providers.extractive import extractive_summary

        return [
            TextResult(
                text=extractive_summary(item, SUMMARY_MAX_SENTENCES),
                provider="offline",
                model="tfidf-extractive",
                method=OFFLINE_SUMMARY_METHOD,
            )
            for item in conditions
        ]
