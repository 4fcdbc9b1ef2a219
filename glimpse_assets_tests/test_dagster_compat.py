"""Contract tests of glimpse_assets/dagster_compat.py: each use of Dagster beyond its public API
does what Glimpse relies on, so a Dagster upgrade that changes one fails here, by name."""

from __future__ import annotations

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
