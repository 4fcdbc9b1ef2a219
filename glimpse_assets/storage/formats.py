"""How a value becomes bytes in storage, chosen by its type, readable without Dagster or pickle.

DataFrames -> Parquet, Pillow images and `PngImage` -> PNG, `HtmlDocument` -> HTML, text / dicts /
lists -> JSON. A PNG is read back as a `PngImage` (its bytes; pixels decoded when asked for), or
as a Pillow image for an input annotated as one.

pandas, pyarrow and Pillow load only when a value of theirs is encoded or decoded: a value cannot
be a DataFrame or an image unless its library is already imported (see `_loaded`), so loading the
code location costs none of them.
"""

from __future__ import annotations

import io
import json
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Format:
    extension: str
    content_type: str


class HtmlDocument(str):
    """A page meant for people: stored as .html, opened in any browser."""


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PngImage:
    """A picture with its PNG encoding, kept together: stored, published and previewed from the
    same bytes, encoded once (a 1024x1024 PNG takes 0.1 s to encode), and decoded only when its
    pixels are asked for. Its size is read from the PNG header."""

    format = "PNG"

    def __init__(self, png: bytes, image: Any = None) -> None:
        # The header: the signature, then the IHDR chunk (length 13) with width and height.
        if len(png) < 24 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
            raise ValueError("not a PNG image: its first bytes are not a PNG signature and header")
        self.png = bytes(png)
        self.size: tuple[int, int] = struct.unpack(">II", png[16:24])
        self._image = image

    @classmethod
    def of(cls, image: Any) -> PngImage:
        """`image` (a Pillow image) encoded as PNG, keeping the pixels it was encoded from."""
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return cls(buffer.getvalue(), image)

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def image(self) -> Any:
        """The pixels as a Pillow image, decoded (and so checked) the first time."""
        if self._image is None:
            from PIL import Image

            image = Image.open(io.BytesIO(self.png))
            image.load()
            self._image = image
        return self._image

    def __repr__(self) -> str:
        return f"PngImage({self.width}x{self.height}, {len(self.png)} bytes)"


PARQUET = Format("parquet", "application/vnd.apache.parquet")
PNG = Format("png", "image/png")
HTML = Format("html", "text/html; charset=utf-8")
JSON = Format("json", "application/json")
ALL_FORMATS = (PARQUET, PNG, HTML, JSON)

_JSON_TYPES = (dict, list, tuple, str, int, float, bool)


def _loaded(module: str, attribute: str) -> type | None:
    """`module.attribute` if that module is already imported, else None (nothing is imported)."""
    loaded = sys.modules.get(module)
    return getattr(loaded, attribute, None) if loaded is not None else None


def is_dataframe(value: Any) -> bool:
    frame = _loaded("pandas", "DataFrame")
    return frame is not None and isinstance(value, frame)


def is_image(value: Any) -> bool:
    image = _loaded("PIL.Image", "Image")
    return image is not None and isinstance(value, image)


def is_image_type(typing_type: Any) -> bool:
    """Whether an annotation asks for a Pillow image (Pillow already imported, as it must be)."""
    image = _loaded("PIL.Image", "Image")
    return image is not None and isinstance(typing_type, type) and issubclass(typing_type, image)


def format_for_value(value: Any) -> Format:
    if is_dataframe(value):
        return PARQUET
    if is_image(value) or isinstance(value, PngImage):
        return PNG
    if isinstance(value, HtmlDocument):
        return HTML
    if isinstance(value, (_JSON_TYPES, Mapping)):
        return JSON
    raise TypeError(
        f"cannot store a {type(value).__name__}: return a pandas DataFrame, a PIL image, "
        "or JSON-serialisable text, dict or list"
    )


def format_for_kinds(kinds: Iterable[str]) -> Format | None:
    """The format an asset declares among its kinds (`kinds={"python", "parquet"}`), if any."""
    declared = [fmt for fmt in ALL_FORMATS if fmt.extension in set(kinds)]
    return declared[0] if len(declared) == 1 else None


def format_for_type(typing_type: Any) -> Format | None:
    """The format for a type annotation, or None when the annotation does not tell."""
    if not isinstance(typing_type, type):
        origin = getattr(typing_type, "__origin__", None)
        typing_type = origin if isinstance(origin, type) else None
    if typing_type is None:
        return None
    frame = _loaded("pandas", "DataFrame")
    if frame is not None and issubclass(typing_type, frame):
        return PARQUET
    if is_image_type(typing_type) or issubclass(typing_type, PngImage):
        return PNG
    if issubclass(typing_type, HtmlDocument):
        return HTML
    if issubclass(typing_type, (dict, list, str, Mapping)):
        return JSON
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):  # pandas.Timestamp is a datetime
        return value.isoformat()
    generic = _loaded("numpy", "generic")
    if generic is not None and isinstance(value, generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: {value!r}")


def encode(value: Any, fmt: Format) -> bytes:
    if fmt is PARQUET:
        buffer = io.BytesIO()
        value.to_parquet(buffer, engine="pyarrow")
        return buffer.getvalue()
    if fmt is PNG:
        return value.png if isinstance(value, PngImage) else PngImage.of(value).png
    if fmt is HTML:
        return value.encode("utf-8")
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default)
    return (text + "\n").encode("utf-8")


def decode(data: bytes, fmt: Format) -> Any:
    if fmt is PARQUET:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    if fmt is PNG:
        return PngImage(data)
    if fmt is HTML:
        return HtmlDocument(data.decode("utf-8"))
    return json.loads(data.decode("utf-8"))
