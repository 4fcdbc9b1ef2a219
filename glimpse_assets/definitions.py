"""The glimpse_assets code location: every domain's Definitions merged with the shared
resources and the executor. A new domain is one folder and one line in `DOMAINS`.

`defs` is Dagster's lazy loader (`@dg.definitions`): importing this module (a test, `glimpse
serve`, the CLI) loads no domain; Dagster, `make run` and the tests build the code location when
they call it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from importlib import import_module

import dagster as dg

# One line per domain: the folder under glimpse_assets/ whose definitions.py has build_defs.
DOMAINS = [
    "news",
    "publish",
    "rides",
    "search",
    "stories",
    "sms",
]


def domain_builders():
    """Each domain's `build_defs(env, shared)`, in `DOMAINS` order."""
    return [import_module(f"glimpse_assets.{name}.definitions").build_defs for name in DOMAINS]


def build_definitions(env: Mapping[str, str] | None = None) -> dg.Definitions:
    from glimpse_assets.executors import executor_from_env
    from glimpse_assets.partitions import check_start_date
    from glimpse_assets.resources import shared_resources

    env = os.environ if env is None else env
    check_start_date(env)
    shared = shared_resources(env)
    return dg.Definitions.merge(
        dg.Definitions(
            # By default steps run one after another in the run's own process: a step costs no
            # new process (the code location's start-up), which is most of a daily run; a range
            # of 60 days or more runs its steps side by side (range_executor.py). A crashed run
            # is retried as a new run (dagster.yaml), reusing the steps that succeeded.
            # GLIMPSE_EXECUTOR chooses another (executors.py).
            executor=executor_from_env(env),
            resources=shared.resources,
        ),
        *(build(env, shared) for build in domain_builders()),
    )


@dg.definitions
@cache
def defs() -> dg.Definitions:
    """The code location, built from `os.environ` on the first call."""
    return build_definitions()
