"""Glimpse: daily LLM and ML content pipelines as Dagster software-defined assets.

`defs` is Dagster's lazy loader (`glimpse_assets.definitions.defs`, a `@dg.definitions`
function). It is imported on first access, so importing a submodule (a test, `glimpse serve`)
does not import Dagster; calling `defs()` builds the code location once.
"""

from typing import Any

__all__ = ["defs"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from glimpse_assets.definitions import defs

        return defs
    raise AttributeError(f"module 'glimpse_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Dagster finds a module's loader through dir(): list `defs` so it is found.
    return sorted({*globals(), "defs"})
