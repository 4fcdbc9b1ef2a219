"""What a domain is to the code location: a function from the environment and the shared
resources to its own `dg.Definitions`.

Each domain's `definitions.py` defines `build_defs(env, shared)` and
`defs = domain_defs(build_defs)`: Dagster's lazy loader (`@dg.definitions`), so
`dg dev -m glimpse_assets.<domain>.definitions` loads the domain alone, built from `os.environ`
when first called, while the top-level code location (`glimpse_assets.definitions`) builds every
domain once with the same shared resources and merges them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cache

import dagster as dg

from glimpse_assets.resources import SharedResources, shared_resources

BuildDefs = Callable[[Mapping[str, str], SharedResources], dg.Definitions]


def build_domain(
    build: BuildDefs,
    env: Mapping[str, str] | None = None,
    shared: SharedResources | None = None,
) -> dg.Definitions:
    """One domain's Definitions, with the shared resources it needs to load and run alone, and
    the other domains' assets it reads declared as external (their stored values are read)."""
    env = os.environ if env is None else env
    defs = build(env, shared or shared_resources(env))
    return dg.Definitions.merge(defs, dg.Definitions(assets=upstream_specs(defs)))


def upstream_specs(defs: dg.Definitions) -> list[dg.AssetSpec]:
    """An external spec for every asset `defs` depends on but does not define."""
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    own = {key for assets_def in assets for key in assets_def.keys}
    foreign = {key for assets_def in assets for key in assets_def.dependency_keys} - own
    return [
        dg.AssetSpec(key, description="Materialised by another Glimpse domain.")
        for key in sorted(foreign, key=lambda key: key.to_user_string())
    ]


def checks_job(domain: str, assets: list[dg.AssetsDefinition]):
    """`<domain>_checks_job`: the domain's checks alone, on what is stored, for the day in the
    run's `dagster/partition` tag (Dagster gives a checks-only job no partition picker)."""
    return dg.define_asset_job(
        f"{domain}_checks_job",
        selection=dg.AssetSelection.checks_for_assets(*assets),
        description=f"The {domain} checks alone, on what is stored, for the day in the run's "
        "`dagster/partition` tag (`make checks DAY=...`, or that tag in the Launchpad).",
    )


def domain_defs(build: BuildDefs) -> Callable[..., dg.Definitions]:
    """The domain alone as Dagster's lazy loader: built from `os.environ` on the first call, the
    same object after."""

    @dg.definitions
    @cache
    def defs() -> dg.Definitions:
        return build_domain(build)

    return defs
