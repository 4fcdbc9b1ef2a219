"""The one IO manager behind every Glimpse asset: a local folder or `s3://bucket/prefix`.

Objects live at `<root>/<asset key path>/<partition key>.<ext>` (unpartitioned assets at
`<root>/<asset key path>.<ext>`), in an open format chosen by the value's type (see `formats`).

A run that covers several partitions (a single-run backfill, or a bounded chunk of one) gets one
object per partition, exactly as day-by-day runs would write them, and each partition's
materialisation is recorded in the event log as soon as its object is written. So whatever stops
a range run half-way, every partition is either its new object with the new materialisation or
its old object with the old one. Two ways in:

- `ranges.for_each_day` writes each day as soon as it is computed (`store_partition`) and records
  it, then returns `StoredDays`: a range never holds more than one day's output in memory;
- an asset may also return a mapping from partition key to value; every value is encoded first
  (a value that cannot be stored fails before any write), then each object is written and
  recorded in turn.

Either way Dagster records the range's output again when the step ends, for the same partitions
with the same metadata (it has no API to record only some partitions of a range, or none).
Downstream, a range run reads its input as a mapping from partition key to value that loads each
day only when it is asked for (`StoredPartitions`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from glimpse_assets.dagster_compat import narrow_output_partitions
from glimpse_assets.storage import formats
from glimpse_assets.storage.object_store import ObjectNotFoundError, ObjectStore, StorageError
from glimpse_assets.storage.resource import ObjectStoreResource

if TYPE_CHECKING:
    import pandas as pd


def object_stem(asset_key: dg.AssetKey, partition_key: str | None) -> str:
    path = "/".join(asset_key.path)
    return f"{path}/{partition_key}" if partition_key is not None else path


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """The stored columns and their pandas types, shown on the asset page."""
    return table_schema([(str(name), str(dtype)) for name, dtype in frame.dtypes.items()])


def table_schema(columns: list[tuple[str, str]]) -> dg.TableSchema:
    # Built where no DataFrame is in scope: the first TableSchema Dagster builds keeps its
    # caller's local variables for good (to resolve annotations), which would pin a day's rows.
    return dg.TableSchema(columns=[dg.TableColumn(name=name, type=kind) for name, kind in columns])


def object_metadata(uri: str, size: int, value: Any) -> dict[str, Any]:
    """What one stored object's materialisation says: a one-day run's, and each day's of a range."""
    metadata: dict[str, Any] = {"uri": dg.MetadataValue.path(uri), "size_bytes": size}
    if formats.is_dataframe(value):
        metadata["dagster/row_count"] = len(value)
        metadata["dagster/column_schema"] = column_schema(value)
    return metadata


def add_partition_metadata(context: dg.OutputContext, partition_key: str, metadata: dict) -> None:
    """Metadata for the materialisation Dagster records for one partition of a range output."""
    try:
        step = context.step_context
    except dg.DagsterInvariantViolationError:
        return  # an output context built outside a run: Dagster records nothing
    step.add_asset_metadata(metadata, asset_key=context.asset_key, partition_key=partition_key)


@dataclass(frozen=True)
class StoredDays:
    """What a range step returns when it has already stored (and recorded) each day itself
    (`ranges.for_each_day`): the days stored, oldest first, and the days it skipped, with why."""

    days: tuple[str, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)


def record_only(context: dg.OutputContext, stored: StoredDays) -> None:
    """Make Dagster record this range output's materialisations for the stored days only.

    Dagster 1.13 records one materialisation for every partition of the run when a range step's
    output is handled, and has no public way to leave some out (dagster-io/dagster#17836, open).
    A range that skipped days must not record them, so this narrows the partitions of the output
    context, which Dagster reads right after `handle_output` returns. That is a private attribute
    (`dagster_compat.narrow_output_partitions`): the result is checked through the public
    `asset_partition_keys`, and if it did not take, the
    step fails, naming the skipped days, rather than record a day that was not stored."""
    keys = list(stored.days)
    if not narrow_output_partitions(context, keys):
        skipped = "; ".join(f"{day} ({why})" for day, why in stored.skipped.items())
        raise StorageError(
            f"{context.asset_key.to_user_string()}: skipped {skipped}. The other "
            f"{len(keys)} days are stored and recorded, but Dagster would record the skipped "
            "ones too (it cannot leave partitions out of a range output here), so the step fails"
        )


class StoredPartitions(Mapping):
    """The stored values of several partitions, read one at a time when asked for: a run over a
    year of days never holds a year of upstream values in memory."""

    def __init__(
        self,
        keys: list[str],
        load: Callable[[str], Any],
        is_stored: Callable[[str], bool] | None = None,
    ) -> None:
        self._keys = keys
        self._known = set(keys)
        self._load = load
        self._is_stored = is_stored

    def missing(self) -> list[str]:
        """The partitions with nothing stored (checked without reading them), oldest first."""
        if self._is_stored is None:
            return []
        return [key for key in self._keys if not self._is_stored(key)]

    def __getitem__(self, key: str) -> Any:
        if key not in self._known:
            raise KeyError(key)
        return self._load(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"StoredPartitions({self._keys[0]}..{self._keys[-1]}, {len(self._keys)} keys)"


def kinds_format(context: dg.InputContext) -> formats.Format | None:
    """The format the upstream asset declares in its kinds, e.g. `kinds={"python", "parquet"}`."""
    upstream = context.upstream_output
    if upstream is None or not upstream.has_asset_key:
        return None
    return formats.format_for_kinds(upstream.asset_spec.kinds)


def wants_dict(context: dg.InputContext) -> bool:
    typing_type = context.dagster_type.typing_type
    return typing_type is dict or getattr(typing_type, "__origin__", None) is dict


class GlimpseIOManager(dg.ConfigurableIOManager):
    """Stores asset values as Parquet, PNG, HTML or JSON, atomically, in the object store."""

    object_store: ObjectStoreResource

    @property
    def store(self) -> ObjectStore:
        return self.object_store.store

    # -- writing -------------------------------------------------------------------------

    def store_partition(
        self, asset_key: dg.AssetKey, partition_key: str | None, value: Any
    ) -> dict[str, Any]:
        """Encode and write one partition's object; return its materialisation's metadata."""
        fmt = formats.format_for_value(value)
        key = f"{object_stem(asset_key, partition_key)}.{fmt.extension}"
        data = formats.encode(value, fmt)
        self.store.put(key, data, fmt.content_type)
        return object_metadata(self.store.uri(key), len(data), value)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if isinstance(obj, StoredDays):
            self._already_stored(context, obj)
            return
        values = self._values_by_partition(context, obj)
        # Encode everything first: a value that cannot be stored fails before any write.
        encoded = []
        for partition_key, value in values.items():
            fmt = formats.format_for_value(value)
            key = f"{object_stem(context.asset_key, partition_key)}.{fmt.extension}"
            encoded.append((partition_key, key, formats.encode(value, fmt), fmt))
        if len(encoded) == 1:
            _, key, data, fmt = encoded[0]
            self.store.put(key, data, fmt.content_type)
            context.log.debug(f"stored 1 object(s), {len(data)} bytes: {self.store.uri(key)}")
            value = next(iter(values.values()))
            context.add_output_metadata(object_metadata(self.store.uri(key), len(data), value))
            return
        # A range: each object is recorded as soon as it is written (see the module docstring).
        for partition_key, key, data, fmt in encoded:
            self.store.put(key, data, fmt.content_type)
            metadata = object_metadata(self.store.uri(key), len(data), values[partition_key])
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=context.asset_key, partition=partition_key, metadata=metadata
                )
            )
            # The same figures on the materialisation Dagster records for the day at the end.
            add_partition_metadata(context, partition_key, metadata)
        # One line per output, not per object: every log line is a write to the event log.
        first, last = self.store.uri(encoded[0][1]), self.store.uri(encoded[-1][1])
        size = sum(len(data) for _, _, data, _ in encoded)
        context.log.debug(f"stored {len(encoded)} objects, {size} bytes: {first} .. {last}")

    def _already_stored(self, context: dg.OutputContext, stored: StoredDays) -> None:
        keys = list(context.asset_partition_keys)
        if sorted([*stored.days, *stored.skipped]) != sorted(keys):
            raise StorageError(
                f"{context.asset_key.to_user_string()} ran over {len(keys)} partitions "
                f"({keys[0]}..{keys[-1]}) but stored or skipped others: {list(stored.days)}, "
                f"{list(stored.skipped)}"
            )
        if stored.skipped:
            record_only(context, stored)
        context.log.debug(
            f"{len(stored.days)} object(s) stored and recorded as they were computed"
            + (f"; {len(stored.skipped)} day(s) skipped" if stored.skipped else "")
        )

    def _values_by_partition(self, context: dg.OutputContext, obj: Any) -> dict[str | None, Any]:
        if not context.has_asset_partitions:
            return {None: obj}
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            return {keys[0]: obj}
        if not isinstance(obj, Mapping) or set(obj) != set(keys):
            raise StorageError(
                f"{context.asset_key.to_user_string()} ran over {len(keys)} partitions "
                f"({keys[0]}..{keys[-1]}) and must return a mapping from each partition key to "
                "its value"
            )
        return {key: obj[key] for key in keys}

    # -- reading -------------------------------------------------------------------------

    def load_input(self, context: dg.InputContext) -> Any:
        asset_key = context.asset_key
        # The upstream's kinds, else the downstream annotation of a single value, else a probe.
        declared = kinds_format(context)
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        if len(keys) > 1:
            stored = StoredPartitions(
                keys,
                lambda key: self._load_one(asset_key, key, declared),
                lambda key: self._is_stored(asset_key, key, declared),
            )
            # An input annotated `dict` gets a plain dict, read up front; any other, on demand.
            return dict(stored) if wants_dict(context) else stored
        typing_type = context.dagster_type.typing_type
        value = self._load_one(asset_key, keys[0], declared or formats.format_for_type(typing_type))
        if isinstance(value, formats.PngImage) and formats.is_image_type(typing_type):
            return value.image  # an input annotated as a Pillow image gets one
        return value

    def _is_stored(
        self, asset_key: dg.AssetKey, partition_key: str, declared: formats.Format | None
    ) -> bool:
        stem = object_stem(asset_key, partition_key)
        candidates = [declared] if declared else list(formats.ALL_FORMATS)
        return any(self.store.exists(f"{stem}.{fmt.extension}") for fmt in candidates)

    def _load_one(
        self, asset_key: dg.AssetKey, partition_key: str | None, declared: formats.Format | None
    ) -> Any:
        stem = object_stem(asset_key, partition_key)
        candidates = [declared] if declared else list(formats.ALL_FORMATS)
        for fmt in candidates:
            try:
                return formats.decode(self.store.get(f"{stem}.{fmt.extension}"), fmt)
            except ObjectNotFoundError:
                continue
        where = f"partition {partition_key} of " if partition_key else ""
        raise StorageError(
            f"nothing stored for {where}{asset_key.to_user_string()} under "
            f"{self.store.uri(stem)}.*: materialise it first"
        )
