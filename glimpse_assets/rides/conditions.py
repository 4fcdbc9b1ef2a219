"""The context texts every ride carries (news, weather, traffic), per 3-hour block of its day.

News comes from the day's `raw_news` headlines; weather and traffic from a shipped pool, drawn
by a seed from the date. A block's rides share one context, so a day has at most 8 distinct
contexts and the summaries need at most 8 provider calls, however many rides there are.
"""

from __future__ import annotations

import json
import random
from datetime import date
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from glimpse_assets.news.sources import day_seed

BLOCK_HOURS = 3
BLOCKS_PER_DAY = 24 // BLOCK_HOURS
NO_NEWS = "No news was recorded for this day."
CONTEXT_COLUMNS = ["news", "weather", "traffic"]


@cache
def conditions_pool() -> dict[str, tuple[str, ...]]:
    text = (
        resources.files("glimpse_assets.data").joinpath("ride_conditions.json").read_text("utf-8")
    )
    pool = json.loads(text)
    return {"weather": tuple(pool["weather"]), "traffic": tuple(pool["traffic"])}


def block_conditions(day: date, headlines: list[str]) -> pd.DataFrame:
    """One row per 3-hour block: the news, weather and traffic that rides in it carry."""
    rng = random.Random(day_seed(day, "conditions"))
    pool = conditions_pool()
    news = [h for h in headlines if h] or [NO_NEWS]
    return pd.DataFrame(
        {
            "news": [news[block % len(news)] for block in range(BLOCKS_PER_DAY)],
            "weather": [rng.choice(pool["weather"]) for _ in range(BLOCKS_PER_DAY)],
            "traffic": [rng.choice(pool["traffic"]) for _ in range(BLOCKS_PER_DAY)],
        }
    )


def attach_conditions(rides: pd.DataFrame, day: date, headlines: list[str]) -> pd.DataFrame:
    """`rides` with news/weather/traffic columns (categoricals: a million rides share 8 texts)."""
    blocks = block_conditions(day, headlines)
    block_of_ride = (rides["pickup_at"].dt.hour.to_numpy() // BLOCK_HOURS).astype(np.int64)
    out = rides.copy()
    for column in CONTEXT_COLUMNS:
        categories, block_codes = np.unique(blocks[column].to_numpy(), return_inverse=True)
        out[column] = pd.Categorical.from_codes(block_codes[block_of_ride], categories=categories)
    return out
