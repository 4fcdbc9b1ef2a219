"""Layers (shared/design.md): no module outside a domain folder imports a domain, but those that
assemble the domains (the code location, `make run`, the CLI and the service)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "glimpse_assets"
DOMAINS = {"news", "publish", "rides", "search", "stories", "sms"}
ASSEMBLERS = {"definitions.py", "run.py", "cli.py", "serve"}


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def domain_of(module: str) -> str | None:
    """The domain `module` belongs to (`glimpse_assets.sms.answers` -> sms), if any."""
    package, _, rest = module.partition(".")
    name = rest.partition(".")[0]
    return name if package == "glimpse_assets" and name in DOMAINS else None


def test_shared_modules_import_no_domain():
    shared = [
        path
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in DOMAINS | ASSEMBLERS
    ]
    assert len(shared) > 20  # providers, llm, storage, ranges, partitions, ...
    leaks = sorted(
        f"{path.relative_to(PACKAGE)} -> {module}"
        for path in shared
        for module in imported_modules(path)
        if domain_of(module) is not None
    )
    assert leaks == []
