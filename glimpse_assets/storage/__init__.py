"""Everything that persists: one object store (local folder or S3) with conditional writes, the
JSON records on top of it, the IO manager and the open formats objects are stored in."""
