"""Contract tests of glimpse_assets/dagster_compat.py: each use of Dagster beyond its public API
does what Glimpse relies on, so a Dagster upgrade that changes one fails here, by name."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from glimpse_assets import dagster_compat as compat

DAYS = dg.DailyPartitionsDefinition(start_date="2026-03-01", timezone="UTC")
RANGE = {
    "dagster/asset_partition_range_start": "2026-03-01",
    "dagster/asset_partition_range_end": "2026-03-02",
}


def test_step_key_and_a_days_metadata_are_read_from_the_step():
    seen = {}

    @dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
    def counted(context) -> None:
        context.add_asset_metadata({"rows": 7}, partition_key="2026-03-02")
        seen["key"] = compat.step_key(context)
        seen["metadata"] = dict(compat.step_asset_metadata(context, counted.key, "2026-03-02"))
        seen["none"] = dict(compat.step_asset_metadata(context, counted.key, "2026-03-01"))

    result = dg.materialize([counted], tags=RANGE)

    assert result.success
    assert seen["key"] == "counted"
    assert {k: getattr(v, "value", v) for k, v in seen["metadata"].items()} == {"rows": 7}
    assert seen["none"] == {}


def test_a_runs_event_records_by_type():
    @dg.asset(partitions_def=DAYS)
    def made():
        return 1

    with dg.instance_for_test() as instance:
        result = dg.materialize([made], partition_key="2026-03-01", instance=instance)
        records = compat.run_event_records(
            instance, result.run_id, {dg.DagsterEventType.ASSET_MATERIALIZATION}
        )

    assert [(r.asset_key, r.partition_key) for r in records] == [(made.key, "2026-03-01")]
    assert records[0].event_log_entry.dagster_event.event_type == (
        dg.DagsterEventType.ASSET_MATERIALIZATION
    )


def test_an_output_can_be_narrowed_to_some_of_its_days():
    class FirstDayOnly(dg.IOManager):
        def handle_output(self, context: dg.OutputContext, obj) -> None:
            assert compat.narrow_output_partitions(context, ["2026-03-01"])

        def load_input(self, context: dg.InputContext):
            raise AssertionError("not loaded")

    @dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
    def ranged(context):
        return {day: day for day in context.partition_keys}

    result = dg.materialize([ranged], tags=RANGE, resources={"io_manager": FirstDayOnly()})

    assert result.success
    recorded = [m.partition for m in result.asset_materializations_for_node("ranged")]
    assert recorded == ["2026-03-01"]


def test_the_executor_classes_range_executor_builds_on():
    assert issubclass(compat.InProcessExecutor, compat.Executor)
    assert issubclass(compat.multiprocess_executor_class(), compat.Executor)
    assert compat.InProcessExecutor(retries=compat.RetryMode.ENABLED).retries == (
        compat.RetryMode.ENABLED
    )
    assert isinstance(dg.reconstructable(one_asset_job), compat.ReconstructableJob)


def one_asset_job() -> dg.JobDefinition:
    @dg.asset
    def alone():
        return 1

    return dg.Definitions(assets=[alone]).resolve_implicit_global_asset_job_def()


def two_assets_graph():
    @dg.asset(partitions_def=DAYS)
    def upstream():
        return 1

    @dg.asset(partitions_def=DAYS, deps=[upstream])
    def downstream():
        return 2

    return dg.Definitions(assets=[upstream, downstream]).resolve_asset_graph()


def test_the_days_a_backfill_of_a_selection_targets():
    graph = two_assets_graph()
    keys = [dg.AssetKey("upstream"), dg.AssetKey("downstream")]
    days = ["2026-03-02", "2026-03-03"]

    targets = compat.backfill_targets(graph, keys, days, as_of=datetime(2026, 6, 1, tzinfo=UTC))

    assert targets == {"upstream": days, "downstream": days}
    only_down = compat.backfill_targets(graph, keys[1:], days[:1], datetime(2026, 6, 1, tzinfo=UTC))
    assert only_down == {"downstream": days[:1]}


def test_a_stored_backfill_reads_back_as_a_record():
    # The record the UI's launch stores, made here as the webserver makes it.
    from dagster._core.execution.backfill import PartitionBackfill

    graph = two_assets_graph()
    keys = [dg.AssetKey("upstream"), dg.AssetKey("downstream")]
    days = ["2026-03-02", "2026-03-03"]
    submitted = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    with dg.instance_for_test() as instance:
        assert compat.backfill_record(instance, "nosuchid") is None
        instance.add_backfill(
            PartitionBackfill.from_asset_partitions(
                backfill_id="abcdefgh",
                asset_graph=graph,
                partition_names=days,
                asset_selection=keys,
                backfill_timestamp=submitted,
                tags={},
                dynamic_partitions_store=instance,
                all_partitions=False,
                title=None,
                description=None,
                run_config=None,
            )
        )
        record = compat.backfill_record(instance, "abcdefgh")
        runs = instance.get_runs(filters=dg.RunsFilter(tags={compat.BACKFILL_ID_TAG: "abcdefgh"}))

    assert record == compat.BackfillRecord(
        backfill_id="abcdefgh",
        status="REQUESTED",
        submitted=submitted,
        ended=None,
        asset_keys=tuple(keys),
        targeted={"upstream": days, "downstream": days},
        materialised={"upstream": [], "downstream": []},
    )
    assert not record.finished
    assert compat.BACKFILL_ID_TAG == "dagster/backfill"  # the tag on every run it launches
    assert runs == []


def test_an_automation_evaluation_reads_its_instance():
    seen = []

    class RecordsTheInstance(dg.AutomationCondition):
        @property
        def name(self) -> str:
            return "records_the_instance"

        def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
            seen.append(compat.evaluation_instance(context))
            return dg.AutomationResult(context, true_subset=context.get_empty_subset())

    @dg.asset(automation_condition=RecordsTheInstance())
    def watched() -> None: ...

    with dg.instance_for_test() as instance:
        dg.evaluate_automation_conditions(defs=[watched], instance=instance)
    assert seen and all(found is instance for found in seen)
