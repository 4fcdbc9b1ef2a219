"""What the README promises is what the code and the tests show."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from glimpse_assets.config_reference import parse_python

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def marks_of(module: Path) -> dict[str, set[str]]:
    """The pytest marks on each test function of `module`, read from its source (a test module
    is not imported by another)."""
    marks: dict[str, set[str]] = {}
    for node in parse_python(module.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = set()
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                dotted = ast.unparse(target)
                if dotted.startswith("pytest.mark."):
                    names.add(dotted.removeprefix("pytest.mark."))
            marks[node.name] = names
    return marks


def test_the_dbscan_parity_claim_names_its_known_exception_and_that_test_exists_as_xfail():
    clustering = README[README.index("**Clustering.**") :].split("\n\n", 1)[0]
    named = re.findall(r"`(test_[a-z0-9_]+)`", clustering)

    assert named, "the README's clustering paragraph names no test for its parity claim"
    marks = marks_of(REPO / "glimpse_assets_tests" / "test_clustering.py")
    for name in named:
        assert name in marks, f"{name} is not a test of test_clustering.py"
        assert "xfail" in marks[name], f"{name} is not an expected failure"
    assert "one known difference" in clustering
