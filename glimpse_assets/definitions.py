"""The glimpse_assets code location: every domain's Definitions merged with the shared
resources and the executor. A new domain is one folder and one line in `DOMAINS`."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from glimpse_assets.executors import executor_from_env
from glimpse_assets.news import definitions as news
from glimpse_assets.publish import definitions as publish
from glimpse_assets.resources import shared_resources
from glimpse_assets.rides import definitions as rides
from glimpse_assets.search import definitions as search
from glimpse_assets.sms import definitions as sms
from glimpse_assets.stories import definitions as stories

DOMAINS = [
    news.build_defs,
    publish.build_defs,
    rides.build_defs,
    search.build_defs,
    stories.build_defs,
    sms.build_defs,
]


def build_definitions(env: Mapping[str, str] | None = None) -> dg.Definitions:
    env = os.environ if env is None else env
    shared = shared_resources(env)
    return dg.Definitions.merge(
        dg.Definitions(
            # By default steps run one after another in the run's own process: a step costs no
            # new process (the code location's start-up), which is most of a daily run and of
            # every backfill chunk; parallelism comes from runs (backfill chunks run side by
            # side). A crashed run is retried as a new run (dagster.yaml), reusing the steps
            # that succeeded. GLIMPSE_EXECUTOR chooses another (executors.py).
            executor=executor_from_env(env),
            resources=shared.resources,
        ),
        *(build(env, shared) for build in DOMAINS),
    )


defs = build_definitions()
