"""The one IO manager behind every Glimpse asset: a local folder or `s3://bucket/prefix`.

Objects live at `<root>/<asset key path>/<partition key>.<ext>` (unpartitioned assets at
`<root>/<asset key path>.<ext>`), in an open format chosen by the value's type (see `formats`).
A run that covers several partitions (a single-run backfill, or a bounded chunk of one) returns a
mapping from partition key to value and gets one object per partition, exactly as day-by-day runs
would write them; downstream, such a run reads its input as a mapping from partition key to value
that loads each day only when it is asked for (see `ranges.for_each_day`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg

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
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()
        ]
    )


def output_metadata(uris: list[str], sizes: list[int], frames: list[pd.DataFrame]) -> dict:
    if len(uris) == 1:
        metadata: dict[str, Any] = {"uri": dg.MetadataValue.path(uris[0]), "size_bytes": sizes[0]}
        if frames:
            metadata["dagster/row_count"] = len(frames[0])
            metadata["dagster/column_schema"] = column_schema(frames[0])
        return metadata
    # Dagster attaches one metadata dict to every partition of a range run, so the figures
    # here are named as what they are: totals over the whole range.
    metadata = {
        "range_objects": len(uris),
        "range_size_bytes_total": sum(sizes),
        "range_uri_first": dg.MetadataValue.path(uris[0]),
        "range_uri_last": dg.MetadataValue.path(uris[-1]),
    }
    if frames:
        metadata["range_rows_total"] = sum(len(frame) for frame in frames)
    return metadata


class StoredPartitions(Mapping):
    """The stored values of several partitions, read one at a time when asked for: a run over a
    year of days never holds a year of upstream values in memory."""

    def __init__(self, keys: list[str], load: Callable[[str], Any]) -> None:
        self._keys = keys
        self._known = set(keys)
        self._load = load

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

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        values = self._values_by_partition(context, obj)
        # Encode everything first: a value that cannot be stored fails before any write.
        encoded = []
        for partition_key, value in values.items():
            fmt = formats.format_for_value(value)
            key = f"{object_stem(context.asset_key, partition_key)}.{fmt.extension}"
            encoded.append((key, formats.encode(value, fmt), fmt))
        for key, data, fmt in encoded:
            self.store.put(key, data, fmt.content_type)
        frames = [value for value in values.values() if formats.is_dataframe(value)]
        uris = [self.store.uri(key) for key, _, _ in encoded]
        sizes = [len(data) for _, data, _ in encoded]
        # One line per output, not per object: every log line is a write to the event log.
        where = uris[0] if len(uris) == 1 else f"{uris[0]} .. {uris[-1]}"
        context.log.debug(f"stored {len(uris)} object(s), {sum(sizes)} bytes: {where}")
        context.add_output_metadata(output_metadata(uris, sizes, frames))

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
            stored = StoredPartitions(keys, lambda key: self._load_one(asset_key, key, declared))
            # An input annotated `dict` gets a plain dict, read up front; any other, on demand.
            return dict(stored) if wants_dict(context) else stored
        declared = declared or formats.format_for_type(context.dagster_type.typing_type)
        return self._load_one(asset_key, keys[0], declared)

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
