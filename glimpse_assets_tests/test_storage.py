"""GlimpseIOManager end to end: where objects land, in which format, and that writes are atomic.

Assets are materialised with the real Dagster executor and read back both through Dagster (a
downstream asset) and directly with pandas / Pillow / json, as a user without Dagster would.
"""

import io
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from glimpse_assets.storage import formats
from glimpse_assets.storage.io_manager import GlimpseIOManager
from glimpse_assets.storage.object_store import LOCKS_FOLDER
from glimpse_assets_tests.support.failures import failure_text
from glimpse_assets_tests.support.net import free_port
from glimpse_assets_tests.support.stores import io_manager_at

DAY = "2026-03-02"
days = dg.DailyPartitionsDefinition(start_date="2026-03-01", timezone="UTC")


# -- values and the tiny assets that return them --------------------------------------------------


def make_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": ["Harbour reopens", "Bridge closes"],
            "score": [0.75, 0.25],
            "count": [3, 1],
            "published": pd.to_datetime(["2026-03-02T08:00:00Z", "2026-03-02T09:30:00Z"]),
        }
    )


def make_image() -> Image.Image:
    image = Image.new("RGB", (4, 3), (10, 20, 30))
    image.putpixel((1, 2), (200, 100, 50))
    return image


DIGEST = {
    "day": DAY,
    "titles": ["Harbour reopens", "Bridge closes"],
    "count": 2,
    "nested": {"a": 1},
}
CAPTION = "A quiet harbour at dawn — ünïcödé survives"


@dg.asset(partitions_def=days)
def daily_frame() -> pd.DataFrame:
    return make_frame()


@dg.asset(partitions_def=days)
def daily_image() -> Image.Image:
    return make_image()


@dg.asset(partitions_def=days)
def daily_digest() -> dict:
    return DIGEST


@dg.asset(partitions_def=days)
def daily_caption() -> str:
    return CAPTION


@dg.asset(partitions_def=days, key_prefix=["a", "b"])
def prefixed_digest() -> dict:
    return DIGEST


@dg.asset
def settings() -> dict:
    return {"unpartitioned": True}


@dg.asset(partitions_def=days)
def side_effect_only() -> None:
    return None


DAILY_ASSETS = [daily_frame, daily_image, daily_digest, daily_caption]
EXPECTED_FILES = {
    "daily_frame": f"daily_frame/{DAY}.parquet",
    "daily_image": f"daily_image/{DAY}.png",
    "daily_digest": f"daily_digest/{DAY}.json",
    "daily_caption": f"daily_caption/{DAY}.json",
}

loaded: dict[str, object] = {}


@dg.asset(partitions_def=days)
def reader(
    daily_frame: pd.DataFrame, daily_image: Image.Image, daily_digest: dict, daily_caption: str
) -> dict:
    loaded.update(frame=daily_frame, image=daily_image, digest=daily_digest, caption=daily_caption)
    return {"read": 4}


# -- helpers --------------------------------------------------------------------------------------


def io_manager(root: Path | str) -> dict[str, GlimpseIOManager]:
    return {"io_manager": io_manager_at(str(root))}


def files_under(root: Path) -> list[str]:
    """Every file below root (hidden temporary files included, the store's lock tree not), as
    sorted relative paths."""
    if not root.exists():
        return []
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] != LOCKS_FOLDER
    )


def metadata_uri(result: dg.ExecuteInProcessResult, node: str) -> str:
    [materialization] = result.asset_materializations_for_node(node)
    return materialization.metadata["uri"].value


def assert_images_equal(actual: Image.Image, expected: Image.Image) -> None:
    assert (actual.mode, actual.size) == (expected.mode, expected.size)
    assert actual.tobytes() == expected.tobytes()


# -- local folder ---------------------------------------------------------------------------------


def test_each_value_type_is_stored_as_its_open_format_under_asset_and_partition(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize(DAILY_ASSETS, partition_key=DAY, resources=io_manager(root))

    assert result.success
    assert files_under(root) == sorted(EXPECTED_FILES.values())
    pd.testing.assert_frame_equal(
        pd.read_parquet(root / EXPECTED_FILES["daily_frame"]), make_frame()
    )
    with Image.open(root / EXPECTED_FILES["daily_image"]) as image:
        assert image.format == "PNG"
        assert_images_equal(image, make_image())
    assert json.loads((root / EXPECTED_FILES["daily_digest"]).read_text("utf-8")) == DIGEST
    assert json.loads((root / EXPECTED_FILES["daily_caption"]).read_text("utf-8")) == CAPTION


def test_materialization_metadata_points_at_the_stored_object(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize(DAILY_ASSETS, partition_key=DAY, resources=io_manager(root))

    for node, relative in EXPECTED_FILES.items():
        [materialization] = result.asset_materializations_for_node(node)
        assert materialization.partition == DAY
        assert Path(materialization.metadata["uri"].value) == (root / relative).resolve()
        size = materialization.metadata["size_bytes"].value
        assert size == (root / relative).stat().st_size
    [frame_event] = result.asset_materializations_for_node("daily_frame")
    assert frame_event.metadata["dagster/row_count"].value == 2


def test_downstream_asset_loads_each_stored_value_back_equal(tmp_path):
    root = tmp_path / "storage"
    dg.materialize(DAILY_ASSETS, partition_key=DAY, resources=io_manager(root))
    loaded.clear()

    result = dg.materialize(
        [*DAILY_ASSETS, reader], selection=[reader], partition_key=DAY, resources=io_manager(root)
    )

    assert result.success
    pd.testing.assert_frame_equal(loaded["frame"], make_frame())
    assert_images_equal(loaded["image"], make_image())
    assert loaded["digest"] == DIGEST
    assert loaded["caption"] == CAPTION
    assert json.loads((root / f"reader/{DAY}.json").read_text("utf-8")) == {"read": 4}


def test_unpartitioned_asset_is_stored_at_its_key_without_a_partition_folder(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize([settings], resources=io_manager(root))

    assert files_under(root) == ["settings.json"]
    assert json.loads((root / "settings.json").read_text("utf-8")) == {"unpartitioned": True}
    assert Path(metadata_uri(result, "settings")) == (root / "settings.json").resolve()


def test_asset_returning_none_stores_nothing(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize([side_effect_only], partition_key=DAY, resources=io_manager(root))

    assert result.success
    assert files_under(root) == []


def test_key_prefix_becomes_nested_folders(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize([prefixed_digest], partition_key=DAY, resources=io_manager(root))

    assert files_under(root) == [f"a/b/prefixed_digest/{DAY}.json"]
    assert json.loads((root / f"a/b/prefixed_digest/{DAY}.json").read_text("utf-8")) == DIGEST
    assert metadata_uri(result, "a__b__prefixed_digest").endswith(f"a/b/prefixed_digest/{DAY}.json")


@dg.asset(partitions_def=days)
def headline(context: dg.AssetExecutionContext) -> dict:
    return {"day": context.partition_key}


@dg.asset(
    partitions_def=days,
    ins={
        "headline": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2, end_offset=0)
        )
    },
)
def three_day_summary(headline: dict) -> dict:
    return {"days": sorted(headline), "values": [headline[key] for key in sorted(headline)]}


def test_three_partition_dependency_is_loaded_as_a_dict_by_partition_key(tmp_path):
    root = tmp_path / "storage"
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        dg.materialize([headline], partition_key=day, resources=io_manager(root))

    result = dg.materialize(
        [headline, three_day_summary],
        selection=[three_day_summary],
        partition_key="2026-03-03",
        resources=io_manager(root),
    )

    assert result.success
    keys = ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert result.output_for_node("three_day_summary") == {
        "days": keys,
        "values": [{"day": key} for key in keys],
    }


def test_missing_upstream_partition_fails_naming_what_to_materialise(tmp_path):
    root = tmp_path / "storage"
    dg.materialize([headline], partition_key="2026-03-03", resources=io_manager(root))

    result = dg.materialize(
        [headline, three_day_summary],
        selection=[three_day_summary],
        partition_key="2026-03-03",
        resources=io_manager(root),
        raise_on_error=False,
    )

    assert not result.success
    text = failure_text(result)
    assert "StorageError" in text
    assert "nothing stored for partition 2026-03-01 of headline" in text
    assert "materialise it first" in text


# -- a run over several partitions ----------------------------------------------------------------

# One run over a partition range (the tags a single-run backfill sets) hands the asset all keys.
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2026-03-01",
    "dagster/asset_partition_range_end": "2026-03-03",
}


@dg.asset(partitions_def=days)
def range_digest(context: dg.AssetExecutionContext) -> dict:
    values = {key: {"day": key, "items": [key[-1]]} for key in context.partition_keys}
    # One partition: the value itself; several: a mapping from partition key to value.
    return values if len(values) > 1 else values[context.partition_key]


@dg.asset(partitions_def=days)
def range_frames(context: dg.AssetExecutionContext) -> dict:
    return {key: pd.DataFrame({"day": [key]}) for key in context.partition_keys}


@dg.asset(partitions_def=days)
def range_with_bad_middle(context: dg.AssetExecutionContext) -> dict:
    values = {key: {"day": key} for key in context.partition_keys}
    values["2026-03-02"] = {"day": object()}
    return values


@dg.asset(partitions_def=days)
def range_not_a_mapping(context: dg.AssetExecutionContext) -> list:
    return ["one value for three days"]


def test_run_over_a_partition_range_writes_one_object_per_partition(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize(
        [range_digest, range_frames], tags=RANGE_TAGS, resources=io_manager(root)
    )

    assert result.success
    keys = ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert files_under(root) == [f"range_digest/{key}.json" for key in keys] + [
        f"range_frames/{key}.parquet" for key in keys
    ]
    for key in keys:
        stored = json.loads((root / f"range_digest/{key}.json").read_text("utf-8"))
        assert stored == {"day": key, "items": [key[-1]]}
        frame = pd.read_parquet(root / f"range_frames/{key}.parquet")
        pd.testing.assert_frame_equal(frame, pd.DataFrame({"day": [key]}))
    events = result.asset_materializations_for_node("range_digest")
    assert sorted({event.partition for event in events}) == keys
    for event in events:
        assert event.metadata["uri"].value.endswith(f"range_digest/{event.partition}.json")


def test_each_day_of_a_range_is_recorded_with_its_own_objects_figures(tmp_path):
    result = dg.materialize([range_frames], tags=RANGE_TAGS, resources=io_manager(tmp_path))
    (one_day,) = dg.materialize(
        [daily_frame], partition_key=DAY, resources=io_manager(tmp_path / "one_day")
    ).asset_materializations_for_node("daily_frame")

    events = result.asset_materializations_for_node("range_frames")
    recorded: dict[str, list] = {}
    for event in events:
        recorded.setdefault(event.partition, []).append(event.metadata)
    assert sorted(recorded) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    for day, (as_written, at_the_end) in recorded.items():
        # Recorded as the object was written, and again by Dagster when the step ended.
        assert as_written == at_the_end
        assert as_written["dagster/row_count"].value == 1
        assert as_written["uri"].value.endswith(f"range_frames/{day}.parquet")
        size = (tmp_path / "range_frames" / f"{day}.parquet").stat().st_size
        assert as_written["size_bytes"].value == size
        assert sorted(as_written) == sorted(one_day.metadata)  # what a one-day run records


def test_partition_range_objects_match_what_day_by_day_runs_write(tmp_path):
    ranged, daily = tmp_path / "ranged", tmp_path / "daily"
    dg.materialize([range_digest], tags=RANGE_TAGS, resources=io_manager(ranged))
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        dg.materialize([range_digest], partition_key=day, resources=io_manager(daily))

    assert files_under(ranged) == files_under(daily)
    for relative in files_under(daily):
        assert (ranged / relative).read_bytes() == (daily / relative).read_bytes()


def test_partition_range_with_one_unencodable_value_writes_nothing(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize(
        [range_with_bad_middle], tags=RANGE_TAGS, resources=io_manager(root), raise_on_error=False
    )

    assert not result.success
    assert "object is not JSON serialisable" in failure_text(result)
    assert files_under(root) == []


RANGE_VERSION = {"value": "old"}


@dg.asset(partitions_def=days)
def versioned_range(context: dg.AssetExecutionContext) -> dict:
    return {key: {"day": key, "version": RANGE_VERSION["value"]} for key in context.partition_keys}


@pytest.mark.slow
def test_s3_vanishing_mid_range_leaves_each_day_old_or_new_in_storage_and_event_log(
    s3_client, s3_bucket, s3_endpoint, monkeypatch
):
    from glimpse_assets_tests.support.storage_faults import FaultyS3Proxy

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the fault is the point: no retries
    keys = ["2026-03-01", "2026-03-02", "2026-03-03"]

    def run(version: str, instance) -> dg.ExecuteInProcessResult:
        RANGE_VERSION["value"] = version
        return dg.materialize(
            [versioned_range],
            tags=RANGE_TAGS,
            resources=io_manager(f"s3://{s3_bucket}/glimpse"),  # a client for today's endpoint
            instance=instance,
            raise_on_error=False,
        )

    with dg.instance_for_test() as instance:
        old = run("old", instance)
        assert old.success
        with FaultyS3Proxy(s3_endpoint, allow_puts=1, then="vanish") as proxy:
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
            new = run("new", instance)
        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
        latest = {
            day: instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=versioned_range.key, asset_partitions=[day]),
                limit=1,
            ).records[0]
            for day in keys
        }

    assert not new.success
    # Day 1 is the new object with the new run's materialisation; days 2-3 the old ones.
    for day in keys:
        body = s3_client.get_object(Bucket=s3_bucket, Key=f"glimpse/versioned_range/{day}.json")
        version = "new" if day == keys[0] else "old"
        assert json.loads(body["Body"].read()) == {"day": day, "version": version}
        assert latest[day].run_id == (new.run_id if version == "new" else old.run_id)
    assert "S3 write" in failure_text(new)


def test_partition_range_output_that_is_not_a_mapping_fails_with_explanation(tmp_path):
    root = tmp_path / "storage"

    result = dg.materialize(
        [range_not_a_mapping], tags=RANGE_TAGS, resources=io_manager(root), raise_on_error=False
    )

    assert not result.success
    text = failure_text(result)
    assert "range_not_a_mapping ran over 3 partitions (2026-03-01..2026-03-03)" in text
    assert "must return a mapping from each partition key to its value" in text
    assert files_under(root) == []


# -- atomic writes: a failed write never replaces what was stored ---------------------------------

good_or_bad: dict[str, object] = {}


@dg.asset(partitions_def=days)
def replaceable() -> object:
    return good_or_bad["value"]


class NotEncodable:
    pass


@pytest.mark.parametrize(
    ("good", "bad", "extension"),
    [
        (
            pd.DataFrame({"x": [1, 2]}),
            pd.DataFrame({"x": [NotEncodable(), NotEncodable()]}),
            "parquet",
        ),
        ({"x": 1}, {"x": NotEncodable()}, "json"),
        ({"x": 1}, {"x": {1, 2}}, "json"),
    ],
    ids=["dataframe-object-column", "dict-with-object", "dict-with-set"],
)
@pytest.mark.slow
def test_failed_encoding_leaves_previous_object_byte_identical(tmp_path, good, bad, extension):
    root = tmp_path / "storage"
    good_or_bad["value"] = good
    dg.materialize([replaceable], partition_key=DAY, resources=io_manager(root))
    stored = root / f"replaceable/{DAY}.{extension}"
    before = stored.read_bytes()

    good_or_bad["value"] = bad
    result = dg.materialize(
        [replaceable], partition_key=DAY, resources=io_manager(root), raise_on_error=False
    )

    assert not result.success
    assert stored.read_bytes() == before
    assert files_under(root) == [f"replaceable/{DAY}.{extension}"]


# -- S3 -------------------------------------------------------------------------------------------


@pytest.fixture
def s3_io_manager(s3_bucket):
    return {"io_manager": io_manager_at(f"s3://{s3_bucket}/prefix")}


def s3_bytes(s3_client, bucket: str, key: str) -> bytes:
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.mark.slow
def test_s3_storage_writes_keys_under_prefix_readable_without_dagster(
    s3_client, s3_bucket, s3_io_manager
):
    result = dg.materialize(DAILY_ASSETS, partition_key=DAY, resources=s3_io_manager)

    assert result.success
    listing = s3_client.list_objects_v2(Bucket=s3_bucket)
    assert sorted(item["Key"] for item in listing["Contents"]) == sorted(
        f"prefix/{relative}" for relative in EXPECTED_FILES.values()
    )
    frame_bytes = s3_bytes(s3_client, s3_bucket, f"prefix/daily_frame/{DAY}.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(frame_bytes)), make_frame())
    with Image.open(
        io.BytesIO(s3_bytes(s3_client, s3_bucket, f"prefix/daily_image/{DAY}.png"))
    ) as image:
        assert_images_equal(image, make_image())
    assert json.loads(s3_bytes(s3_client, s3_bucket, f"prefix/daily_digest/{DAY}.json")) == DIGEST
    assert json.loads(s3_bytes(s3_client, s3_bucket, f"prefix/daily_caption/{DAY}.json")) == CAPTION


def test_s3_objects_carry_content_type_and_metadata_uri(s3_client, s3_bucket, s3_io_manager):
    result = dg.materialize(DAILY_ASSETS, partition_key=DAY, resources=s3_io_manager)

    content_types = {
        "daily_frame": "application/vnd.apache.parquet",
        "daily_image": "image/png",
        "daily_digest": "application/json",
        "daily_caption": "application/json",
    }
    for node, relative in EXPECTED_FILES.items():
        assert metadata_uri(result, node) == f"s3://{s3_bucket}/prefix/{relative}"
        head = s3_client.head_object(Bucket=s3_bucket, Key=f"prefix/{relative}")
        assert head["ContentType"] == content_types[node]


@pytest.mark.slow
def test_s3_downstream_asset_loads_values_back_equal(s3_io_manager):
    dg.materialize(DAILY_ASSETS, partition_key=DAY, resources=s3_io_manager)
    loaded.clear()

    result = dg.materialize(
        [*DAILY_ASSETS, reader], selection=[reader], partition_key=DAY, resources=s3_io_manager
    )

    assert result.success
    pd.testing.assert_frame_equal(loaded["frame"], make_frame())
    assert_images_equal(loaded["image"], make_image())
    assert loaded["digest"] == DIGEST
    assert loaded["caption"] == CAPTION


@pytest.mark.slow
def test_s3_three_partition_dependency_is_loaded_as_a_dict(s3_io_manager):
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        dg.materialize([headline], partition_key=day, resources=s3_io_manager)

    result = dg.materialize(
        [headline, three_day_summary],
        selection=[three_day_summary],
        partition_key="2026-03-03",
        resources=s3_io_manager,
    )

    assert result.output_for_node("three_day_summary")["days"] == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
    ]


def test_s3_unencodable_value_leaves_stored_object_unchanged(s3_client, s3_bucket, s3_io_manager):
    good_or_bad["value"] = {"x": 1}
    dg.materialize([replaceable], partition_key=DAY, resources=s3_io_manager)
    key = f"prefix/replaceable/{DAY}.json"
    before = s3_bytes(s3_client, s3_bucket, key)

    good_or_bad["value"] = {"x": NotEncodable()}
    result = dg.materialize(
        [replaceable], partition_key=DAY, resources=s3_io_manager, raise_on_error=False
    )

    assert not result.success
    assert s3_bytes(s3_client, s3_bucket, key) == before
    assert [item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]] == [
        key
    ]


def test_unreachable_s3_endpoint_fails_the_run_naming_uri_and_endpoint(monkeypatch):
    port = free_port()  # nothing listens on it
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    manager = io_manager_at("s3://b/p")

    result = dg.materialize(
        [daily_digest],
        partition_key=DAY,
        resources={"io_manager": manager},
        raise_on_error=False,
    )

    assert not result.success
    text = failure_text(result)
    assert "StorageUnavailableError" in text  # the StorageError for no answer or no connection
    assert f"S3 write of s3://b/p/daily_digest/{DAY}.json" in text
    assert f"(endpoint http://127.0.0.1:{port})" in text


# -- configuration and format errors --------------------------------------------------------------


def test_unsupported_storage_scheme_fails_the_run_naming_the_setting(tmp_path):
    result = dg.materialize(
        [daily_digest],
        partition_key=DAY,
        resources={"io_manager": io_manager_at("ftp://x")},
        raise_on_error=False,
    )

    assert not result.success
    text = failure_text(result)
    assert "GLIMPSE_STORAGE_URI" in text
    assert "'ftp://x'" in text


@pytest.mark.parametrize(
    ("value", "type_name"),
    [({1, 2}, "set"), (b"bytes", "bytes"), (NotEncodable(), "NotEncodable"), (None, "NoneType")],
)
def test_format_for_value_rejects_unsupported_types_naming_the_type(value, type_name):
    with pytest.raises(TypeError, match=f"cannot store a {type_name}"):
        formats.format_for_value(value)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        (pd.DataFrame(), formats.PARQUET),
        (Image.new("L", (1, 1)), formats.PNG),
        ({}, formats.JSON),
        ([], formats.JSON),
        ((1, 2), formats.JSON),
        ("text", formats.JSON),
        (3, formats.JSON),
        (0.5, formats.JSON),
        (True, formats.JSON),
    ],
)
def test_format_for_value_picks_format_by_type(value, fmt):
    assert formats.format_for_value(value) is fmt


def test_json_encoding_writes_dates_and_numpy_scalars_as_plain_json():
    value = {
        "when": pd.Timestamp("2026-03-02T08:00:00Z"),
        "count": np.int64(3),
        "ratio": np.float32(0.5),
    }

    decoded = formats.decode(formats.encode(value, formats.JSON), formats.JSON)

    assert decoded == {"when": "2026-03-02T08:00:00+00:00", "count": 3, "ratio": 0.5}


def test_a_dataframe_output_carries_its_column_schema(tmp_path):
    result = dg.materialize(
        [daily_frame], partition_key="2026-03-01", resources=io_manager(tmp_path)
    )

    (event,) = result.asset_materializations_for_node("daily_frame")
    schema = event.metadata["dagster/column_schema"].value
    stored = pd.read_parquet(tmp_path / "daily_frame" / "2026-03-01.parquet")
    assert [column.name for column in schema.columns] == list(stored.columns)
    assert [column.type for column in schema.columns] == [str(t) for t in stored.dtypes]
