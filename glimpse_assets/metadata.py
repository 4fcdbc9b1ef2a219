"""Metadata for people: small Markdown tables and image previews that render in the Dagster UI."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import dagster as dg
import pandas as pd
from PIL import Image


def _cell(value: object, width: int) -> str:
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        value = ", ".join(str(v) for v in list(value))
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def markdown_table(
    frame: pd.DataFrame, columns: Sequence[str], limit: int = 10, width: int = 80
) -> str:
    if frame.empty:
        return "_no rows_"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.head(limit).iterrows():
        lines.append("| " + " | ".join(_cell(row[c], width) for c in columns) + " |")
    if len(frame) > limit:
        lines.append(f"\n_{len(frame) - limit} more rows_")
    return "\n".join(lines)


def png_preview(png: bytes) -> dg.MetadataValue:
    """PNG bytes inlined as a data URI, so the asset page shows them with no file server."""
    return dg.MetadataValue.md(
        f"![preview](data:image/png;base64,{base64.b64encode(png).decode()})"
    )


def image_preview(image: Image.Image, max_side: int = 256) -> dg.MetadataValue:
    """A thumbnail of `image` (see `png_preview`)."""
    thumbnail = image.copy()
    thumbnail.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="PNG")
    return png_preview(buffer.getvalue())
