"""Digests of what a run stored, by content rather than by encoder: decoded tables, pixels,
JSON text and pages (with embedded plots and the storage root left out), so that a library
upgrade that re-encodes the same values does not count as a change, and any change of a value
does. `python -m glimpse_assets_tests.support.output_digests <storage root>` prints them as JSON."""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from pathlib import Path

EMBEDDED_IMAGE = re.compile(rb"data:image/png;base64,[A-Za-z0-9+/=]+")


def content_digest(path: Path, root: Path) -> str:
    data = path.read_bytes().replace(str(root).encode(), b"<storage>")
    if path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(io.BytesIO(data))
        if "vector" in frame.columns:  # float32 arithmetic's last bits vary with CPU kernels
            frame["vector"] = [[round(float(x), 4) for x in vector] for vector in frame["vector"]]
        data = frame.to_json(orient="split", date_format="iso", double_precision=12).encode()
        data += repr([str(dtype) for dtype in frame.dtypes]).encode()
    elif path.suffix == ".png":
        from PIL import Image

        image = Image.open(io.BytesIO(data))
        data = f"{image.mode} {image.size}".encode() + image.tobytes()
    elif path.suffix == ".html":
        data = EMBEDDED_IMAGE.sub(b"data:image/png;base64,", data)
    return hashlib.sha256(data).hexdigest()


def output_digests(root: Path) -> dict[str, str]:
    """Every output under `root`, by relative path: the assets' objects, the outbox and the
    gallery; not the store's bookkeeping (`.locks/`, and `_ledger/`, `_cache/`, `_budget/`,
    `_moderation/`, whose records say when and by which run, not what)."""
    return {
        path.relative_to(root).as_posix(): content_digest(path, root)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.relative_to(root).parts[0].startswith((".", "_"))
    }


if __name__ == "__main__":
    print(json.dumps(output_digests(Path(sys.argv[1]).resolve()), indent=2, sort_keys=True))
