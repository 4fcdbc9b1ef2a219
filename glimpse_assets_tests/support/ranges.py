"""Ranges of days as Dagster's single-run backfills run them: the tags of a range run, the
offline code location's environment, every asset and check of the news, publish and rides
chains, and a whole store read back for comparing byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from glimpse_assets.news.assets import news_assets
from glimpse_assets.news.checks import news_checks
from glimpse_assets.publish.assets import social_post
from glimpse_assets.rides.assets import rides_assets
from glimpse_assets.rides.checks import rides_checks
from glimpse_assets.storage.exactly_once import CLAIM_FIELDS

ALL_ASSETS = [*news_assets, social_post, *rides_assets]
ALL_CHECKS = [*news_checks, *rides_checks]
ASSET_FOLDERS = [asset.key.path[-1] for asset in ALL_ASSETS]


def range_tags(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def offline_env(root: Path, **extra: str) -> dict[str, str]:
    return {"GLIMPSE_STORAGE_URI": str(root), "GLIMPSE_PROVIDER": "offline", **extra}


def whole_store(root: Path) -> dict[str, bytes]:
    """Every object under `root`, with `root` itself (which the outbox records) written as
    <storage> and the ledger's claim fields left out, so two stores can be compared byte for
    byte."""
    store = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        data = path.read_bytes().replace(str(root).encode(), b"<storage>")
        if name.startswith("_ledger/") and name.endswith(".json"):
            record = {k: v for k, v in json.loads(data).items() if k not in CLAIM_FIELDS}
            data = json.dumps(record, sort_keys=True).encode()
        store[name] = data
    return store


def check_evaluations(result: dg.ExecuteInProcessResult) -> list[dg.AssetCheckEvaluation]:
    return [
        event.event_specific_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
