"""A range does not hold every day's output in memory (issue 11, item 8).

Each day of a range is written as soon as it is computed and then let go: when the step computes
a day, the days before it are already in storage, and no value of theirs is alive any more. So
the step's memory is one day's, whatever the length of the range (the peak RSS of a 30-day range
at 1,000,000 rides a day is measured by `make bench`, section range_memory).
"""

import gc
import weakref

import dagster as dg
import pandas as pd
import pytest

from glimpse_assets.partitions import BACKFILL_POLICY, daily_partitions
from glimpse_assets.ranges import for_each_day
from glimpse_assets.storage.io_manager import StoredPartitions
from glimpse_assets_tests.support.stores import io_manager_at

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
RANGE = {
    "dagster/asset_partition_range_start": DAYS[0],
    "dagster/asset_partition_range_end": DAYS[-1],
}
seen: dict[str, dict] = {}
alive: list[weakref.ref] = []


def day_frame(day: str, rows: int = 1000) -> pd.DataFrame:
    return pd.DataFrame({"day": [day] * rows, "n": range(rows)})


def observe(step: str, day: str, root) -> None:
    """What is stored and what is still in memory when `step` starts computing `day`."""
    gc.collect()
    earlier = [d for d in DAYS if d < day]
    seen.setdefault(step, {})[day] = {
        "earlier_days_stored": all((root / step / f"{d}.parquet").exists() for d in earlier),
        "values_alive": sum(ref() is not None for ref in alive),
    }


@pytest.mark.slow
def test_a_range_stores_each_day_before_computing_the_next_and_lets_it_go(tmp_path):
    seen.clear()
    alive.clear()

    @dg.asset(partitions_def=daily_partitions, backfill_policy=BACKFILL_POLICY)
    def frames(context: dg.AssetExecutionContext):
        def compute(day):
            observe("frames", day.isoformat(), tmp_path)
            frame = day_frame(day.isoformat())
            alive.append(weakref.ref(frame))
            return frame

        return for_each_day(context, compute)

    @dg.asset(partitions_def=daily_partitions, backfill_policy=BACKFILL_POLICY)
    def doubled(context: dg.AssetExecutionContext, frames):
        assert isinstance(frames, StoredPartitions)  # read one day at a time

        def compute(day, frames):
            observe("doubled", day.isoformat(), tmp_path)
            frame = frames.assign(n=frames["n"] * 2)
            alive.append(weakref.ref(frame))
            return frame

        return for_each_day(context, compute, frames=frames)

    result = dg.materialize(
        [frames, doubled], resources={"io_manager": io_manager_at(str(tmp_path))}, tags=RANGE
    )

    assert result.success
    for step in ("frames", "doubled"):
        assert sorted(seen[step]) == DAYS
        for day, state in seen[step].items():
            assert state == {"earlier_days_stored": True, "values_alive": 0}, (step, day)
    for day in DAYS:
        stored = pd.read_parquet(tmp_path / "doubled" / f"{day}.parquet")
        pd.testing.assert_frame_equal(stored, day_frame(day).assign(n=lambda f: f["n"] * 2))
