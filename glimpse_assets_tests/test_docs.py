"""What the README and the docs site promise is what the code and the tests show, and the site
builds: every page is in mkdocs.yml's nav, every link of the README leads to a page."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from glimpse_assets.config_reference import parse_python

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
README = (REPO / "README.md").read_text("utf-8")
README_MAX_LINES = 200


def page(relative: str) -> str:
    return (DOCS / relative).read_text("utf-8")


def section(text: str, heading: str) -> str:
    """The body of the Markdown section under `heading` (a whole line, e.g. "## Clustering"), up
    to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    ends = [
        match.start()
        for match in re.finditer(r"^(#+) ", text[start:], flags=re.MULTILINE)
        if len(match.group(1)) <= len(level)
    ]
    return text[start : start + ends[0]] if ends else text[start:]


def nav_pages(nav: list) -> list[str]:
    """Every page named in an mkdocs nav, however deeply nested."""
    pages = []
    for entry in nav:
        values = entry.values() if isinstance(entry, dict) else [entry]
        for value in values:
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def mkdocs_config() -> dict:
    return yaml.safe_load((REPO / "mkdocs.yml").read_text("utf-8"))


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
    clustering = section(page("domains/rides.md"), "## Clustering")
    named = re.findall(r"`(test_[a-z0-9_]+)`", clustering)

    assert named, "the rides page's clustering section names no test for its parity claim"
    marks = marks_of(REPO / "glimpse_assets_tests" / "test_clustering.py")
    for name in named:
        assert name in marks, f"{name} is not a test of test_clustering.py"
        assert "xfail" in marks[name], f"{name} is not an expected failure"
    assert "one known difference" in clustering


def test_the_section_helper_stops_at_the_next_heading_of_its_level():
    text = "# T\n\n## A\n\none\n\n### A.1\n\ntwo\n\n## B\n\nthree\n"

    assert section(text, "## A") == "\none\n\n### A.1\n\ntwo\n\n"
    assert section(text, "## B") == "\nthree\n"


def test_the_readme_is_at_most_200_lines():
    lines = len(README.splitlines())

    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    config = mkdocs_config()
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    listed = nav_pages(config["nav"])

    assert sorted(pages - set(listed)) == [], "pages missing from mkdocs.yml's nav"
    assert sorted(set(listed) - pages) == [], "nav entries with no page"
    assert len(listed) == len(set(listed)), "a page is listed twice"


def test_the_site_is_strict_and_needs_nothing_from_the_network():
    config = mkdocs_config()

    assert config["strict"] is True
    assert config["theme"] == {**config["theme"], "name": "material", "font": False}
    assert "repo_url" not in config  # Material would ask GitHub's API for its star count
    assert all(value == "warn" for value in config["validation"].values())
    plugins = [next(iter(p)) if isinstance(p, dict) else p for p in config.get("plugins", [])]
    assert plugins == ["search"]


def test_every_readme_link_into_the_repo_leads_to_a_file_and_every_domain_has_its_page():
    targets = re.findall(r"\]\((?!https?://|#)([^)#]+)(?:#[^)]*)?\)", README)

    assert targets, "the README links no docs page"
    missing = [target for target in targets if not (REPO / target).is_file()]
    assert missing == []
    for domain in ("news", "publish", "rides", "search", "stories", "sms"):
        assert f"docs/domains/{domain}.md" in targets, f"the README does not link {domain}'s page"


def test_the_readme_command_table_names_every_command_the_brief_lists():
    table = section(README, "## Commands")

    for target in (
        "run",
        "test",
        "test-fast",
        "ui",
        "serve",
        "checks",
        "lint",
        "bench",
        "deploy-test",
        "docs",
        "config-reference",
    ):
        assert f"| `make {target}` |" in table, f"make {target} is not in the README's table"
    makefile = (REPO / "Makefile").read_text("utf-8")
    for target in re.findall(r"\| `make ([a-z-]+)` \|", table):
        assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.MULTILINE), target


def test_the_readme_names_the_glimpse_commands_and_each_is_one():
    from glimpse_assets.cli import parser

    table = section(README, "## Commands")
    named = set(re.findall(r"\| `\.venv/bin/glimpse ([a-z]+)", table))
    (commands,) = [action for action in parser()._actions if action.dest == "command"]

    assert named == {"search", "ask", "ingest", "status"}
    assert named <= set(commands.choices)


@pytest.mark.process
@pytest.mark.slow  # about 1 s of CPU in the mkdocs process
def test_the_docs_site_builds_with_mkdocs_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs and mkdocs-material are not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"

    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert built.returncode == 0, built.stderr[-3000:]
    for name in nav_pages(mkdocs_config()["nav"]):
        html = "index.html" if name == "index.md" else name.removesuffix(".md") + "/index.html"
        assert (site / html).is_file(), f"{name} was not built"
