"""Declarative automation for the chains that follow another chain's day.

rides and search read the day's raw_news, sms the day's social_post; none of them fetches or
makes those itself. The first asset of each such chain carries `follows_upstream_day()`: it is
requested for a day once a one-day run has stored its upstream for that day, and the rest of the
chain is requested with it (`with_its_chain()`): the chains that follow a day are one run, with
their checks. `automation_sensor` evaluates them all.

Nothing starts for:
- an upstream stored by a backfill or a range run (`dagster/backfill`,
  `dagster/asset_partition_range_start`): backfill the followers with their own backfill, which
  reads the stored upstream of each day. Dagster's `eager()` would follow a backfill once it ends
  (it only waits while it is in progress), and only for the newest partition (today), where the
  morning schedule stores yesterday;
- a run that also made the follower for that day ("Materialize all" for a day in the UI);
- a day whose upstream object this storage does not hold: an instance's event log can name days
  that another storage, or a storage since cleaned, holds, and a run for them could only fail;
- the upstream updates before the sensor's first evaluation, and an update already followed.

A later one-day run that stores the upstream again is followed again. Whether a day is over is
not the automation's business: publish and sms hold a day that is not (partitions.day_is_over).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import dagster as dg

from glimpse_assets import dagster_compat as compat
from glimpse_assets.storage.io_manager import object_stem
from glimpse_assets.storage.object_store import ObjectStore
from glimpse_assets.storage.resource import ObjectStoreResource

BACKFILL_TAG = "dagster/backfill"
RANGE_TAG = "dagster/asset_partition_range_start"
STORED_HERE = "stored_in_this_storage"


def stored_days(store: ObjectStore, asset_key: dg.AssetKey) -> set[str]:
    """The days the storage holds `asset_key`'s object for (whatever its format): one listing of
    the asset's folder."""
    folder = object_stem(asset_key, None)
    return {key[len(folder) + 1 :].split(".")[0] for key in store.list(folder)}


def newest_run_id(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> str | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    return records[0].run_id if records else None


def is_one_day_run(run: dg.DagsterRun | None) -> bool:
    return run is not None and not any(tag in run.tags for tag in (BACKFILL_TAG, RANGE_TAG))


class StoredByAOneDayRun(dg.AutomationCondition):
    """The days whose newest materialisation came from a one-day run (no backfill, no range run)
    that did not also make the asset being automated. Not Dagster's `executed_with_tags`: it reads
    the asset's newest materialisation whatever its day (a range's other days pass); nor
    `all_new_updates_have_run_tags`: it sees nothing after a tick on an empty event log (a new
    instance's first backfill would be followed)."""

    @property
    def name(self) -> str:
        return "stored_by_a_one_day_run"

    @property
    def description(self) -> str:
        return "The day's newest update came from a one-day run that did not make this asset"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        candidates = context.candidate_subset
        if candidates.is_empty:  # looked up only for days that were just stored
            return dg.AutomationResult(context, candidates)
        instance, head = compat.evaluation_instance(context), context.root_context.key
        followed = set()
        for day in candidates.expensively_compute_partition_keys():
            run_id = newest_run_id(instance, context.key, day)
            if (
                run_id is not None
                and is_one_day_run(instance.get_run_by_id(run_id))
                and newest_run_id(instance, head, day) != run_id
            ):
                followed.add(day)
        return dg.AutomationResult(
            context, candidates.compute_intersection_with_partition_keys(followed)
        )


class StoredInThisStorage(dg.AutomationCondition):
    """The days whose object this code location's storage holds; its storage is bound when a
    domain builds its Definitions (`bind_automation`)."""

    def __init__(self, object_store: ObjectStoreResource | None = None):
        self.object_store = object_store

    @property
    def name(self) -> str:
        return STORED_HERE

    @property
    def description(self) -> str:
        return "The day's object is in this code location's storage"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        candidates = context.candidate_subset
        if candidates.is_empty:  # listed only for days that were just stored
            return dg.AutomationResult(context, candidates)
        if self.object_store is None:
            raise RuntimeError(
                f"{STORED_HERE} has no storage: build the assets' Definitions with "
                "glimpse_assets.automation.bind_automation"
            )
        held = stored_days(self.object_store.store, context.key)
        return dg.AutomationResult(
            context, candidates.compute_intersection_with_partition_keys(held)
        )


def follows_upstream_day() -> dg.AutomationCondition:
    """For the first asset of a chain that reads another chain's day: requested once for each day
    a one-day run stores its upstream in this storage, when neither is in progress. (The two
    Python conditions are why `automation_sensor` evaluates in the code location.)"""
    AC = dg.AutomationCondition
    stored = AC.newly_updated() & StoredByAOneDayRun() & StoredInThisStorage()
    return (
        AC.any_deps_match(
            stored.with_label("newly_stored_by_a_one_day_run_here")
        ).since_last_handled()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("follows_upstream_day")


def with_its_chain() -> dg.AutomationCondition:
    """For the rest of such a chain: requested with its parents, in the same run."""
    AC = dg.AutomationCondition
    return AC.any_deps_match(AC.will_be_requested()).with_label("with_its_chain")


def bind_automation(
    assets: Iterable[dg.AssetsDefinition], object_store: ObjectStoreResource | None
) -> list[dg.AssetsDefinition]:
    """`assets` with their conditions' storage check bound to `object_store`; with None, with no
    automation at all (a domain that is switched off starts nothing)."""

    def bind(spec: dg.AssetSpec) -> dg.AssetSpec:
        condition = spec.automation_condition
        if condition is None:
            return spec
        if object_store is None:
            return spec.replace_attributes(automation_condition=None)
        bound = condition.replace(STORED_HERE, StoredInThisStorage(object_store))
        return spec.replace_attributes(automation_condition=bound)

    return list(dg.map_asset_specs(bind, list(assets)))


# One sensor for the code location. Declared by every domain that has automated assets (the same
# object, so merging the domains keeps one), so a domain loaded alone is automated too. Evaluated
# in the code location because `StoredInThisStorage` is Python the daemon cannot load (Dagster's
# own default sensor runs in the daemon, and starts STOPPED). RUNNING by default, as the
# after-news sensors it replaces were. One run per day (no backfills): a day is one run of its
# chains, as a one-day run of the upstream made it.
# Evaluating in the code location is a Dagster beta parameter; Glimpse relies on it knowingly.
warnings.filterwarnings("ignore", message=".*use_user_code_server", category=dg.BetaWarning)
automation_sensor = dg.AutomationConditionSensorDefinition(
    "glimpse_automation_sensor",
    target=dg.AssetSelection.all(),
    use_user_code_server=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    emit_backfills=False,
    minimum_interval_seconds=60,
    description="Runs the chains that follow another chain's day (rides and search after the "
    "day's raw_news, sms after the day's social_post) once a one-day run has stored it.",
)
