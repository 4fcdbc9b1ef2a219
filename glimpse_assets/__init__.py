"""Glimpse: daily LLM and ML content pipelines as Dagster software-defined assets."""

from glimpse_assets.definitions import defs

__all__ = ["defs"]
