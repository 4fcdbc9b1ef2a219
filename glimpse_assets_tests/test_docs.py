"""What the README promises is what the code and the tests show."""

from __future__ import annotations

import re
from pathlib import Path

from glimpse_assets_tests import test_clustering

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_the_dbscan_parity_claim_names_its_known_exception_and_that_test_exists_as_xfail():
    clustering = README[README.index("**Clustering.**") :].split("\n\n", 1)[0]
    named = re.findall(r"`(test_[a-z0-9_]+)`", clustering)

    assert named, "the README's clustering paragraph names no test for its parity claim"
    for name in named:
        marks = {mark.name for mark in getattr(getattr(test_clustering, name), "pytestmark", [])}
        assert "xfail" in marks, f"{name} is not an expected failure"
    assert "one known difference" in clustering
