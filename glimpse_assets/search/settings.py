"""The search domain's settings: when the vector index gets an ANN index."""

from typing import Annotated

from pydantic import Field

from glimpse_assets.search.index import DEFAULT_ANN_MIN_ROWS
from glimpse_assets.settings import Settings, WholeNumber


class SearchSettings(Settings):
    """How the vector index behind `/search` and `/ask` is searched."""

    # Below this many chunks a query compares every vector (exact); from it, IVF_HNSW_SQ.
    ann_min_rows: Annotated[WholeNumber, Field(ge=256)] = Field(
        DEFAULT_ANN_MIN_ROWS,
        alias="GLIMPSE_SEARCH_ANN_MIN_ROWS",
        description="From this many chunks the index gets an approximate (IVF_HNSW_SQ) index; "
        "below it every query compares every vector, exactly.",
    )
