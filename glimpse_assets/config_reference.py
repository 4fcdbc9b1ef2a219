"""The configuration reference, written from the settings classes.

`python -m glimpse_assets.config_reference` (`make config-reference`) writes
`docs/configuration.md`; `--check` only says whether it is up to date. The settings are found,
not listed: every class deriving from `Settings` in the package's top-level modules (the shared
ones) and in each domain's `<domain>/settings.py`, so a new domain's settings appear without a
change here. Each variable is listed once, where it is declared, with its default, what it
accepts (from its type, its bounds and its validators' `shown_as`) and its `description`.
Writing fails, naming it, on a variable declared twice or a field without a description.
"""

from __future__ import annotations

import ast
import importlib
import sys
import types
import typing
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic.fields import FieldInfo

from glimpse_assets.settings import SECRET, Settings

PACKAGE_DIR = Path(__file__).resolve().parent
REFERENCE = PACKAGE_DIR.parent / "docs" / "configuration.md"
COMMAND = "make config-reference"
SECRET_WORDS = "secret: never logged"
PRIVATE_WORDS = "personal data: never logged"

INTRO = f"""\
<!-- Written by `{COMMAND}` (python -m glimpse_assets.config_reference) from the settings
classes; edit their `description`s, not this file. -->

# Configuration

Everything is set through environment variables. Each domain reads its own through one typed
settings class (`glimpse_assets/settings.py` for the shared ones, `<domain>/settings.py`), and its
`resources.py` chooses the implementations from it. Every setting is validated when the code
location loads: a bad value stops the load with one line naming the variable, the value and what
is allowed, e.g. `GLIMPSE_LLM_MAX_CONCURRENCY='0' is not allowed: input should be greater than or
equal to 1`. An empty variable counts as unset.

Secrets (API keys, tokens, passwords) are read when a run starts, through `dg.EnvVar`, never at
load and never copied into the definitions, logs or errors. A missing one does not stop the code
location from loading: the step that needs it fails, naming the variable, and every other step
runs.
"""


def parse_python(source: str) -> ast.Module:
    """`ast.parse`, tried again on CPython 3.11's "AST constructor recursion depth mismatch": its
    AST state is shared between threads (python/cpython#106905), so a parse that races another
    thread's (a code server or a model loader left running in the same process) can fail once."""
    for _ in range(2):
        try:
            return ast.parse(source)
        except SystemError:
            pass
    return ast.parse(source)


def _declares_settings(path: Path) -> bool:
    """Whether the module at `path` defines a class with a base named `...Settings`."""
    for node in ast.walk(parse_python(path.read_text("utf-8"))):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
                if name.endswith("Settings"):
                    return True
    return False


def settings_modules(package_dir: Path = PACKAGE_DIR, package: str = "glimpse_assets"):
    """(section, module name, path) of every module that declares settings: the top-level
    modules ("Shared", `settings.py` first), then each domain's `settings.py`."""
    shared = sorted(
        (path for path in package_dir.glob("*.py") if _declares_settings(path)),
        key=lambda path: (path.stem != "settings", path.stem),
    )
    for path in shared:
        yield "Shared", f"{package}.{path.stem}", path
    for path in sorted(package_dir.glob("*/settings.py")):
        yield path.parent.name, f"{package}.{path.parent.name}.settings", path


def settings_classes(module_name: str) -> list[type[Settings]]:
    """The settings classes `module_name` defines, in the order it defines them."""
    module = importlib.import_module(module_name)
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Settings)
        and value is not Settings
        and value.__module__ == module_name
    ]


def own_fields(cls: type[Settings]) -> dict[str, FieldInfo]:
    """The fields `cls` declares itself (not those it inherits)."""
    inherited = {name for base in cls.__mro__[1:] for name in getattr(base, "model_fields", {})}
    return {name: f for name, f in cls.model_fields.items() if name not in inherited}


def _variable(name: str, field: FieldInfo) -> str:
    return field.alias or name


def _code(value: Any) -> str:
    return f"`{value}`"


def default_text(cls: type[Settings], name: str, field: FieldInfo) -> str:
    value = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    if cls.is_secret(name) or value is None or value == []:
        return "unset"
    if isinstance(value, float):
        return _code(f"{value:g}")
    if isinstance(value, date):
        return _code(value.isoformat())
    return _code(value)


def _base_type(annotation: Any) -> Any:
    """`annotation` without `| None`."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kept = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def _type_words(annotation: Any) -> str:
    base = _base_type(annotation)
    if typing.get_origin(base) is Literal:
        values = [_code(value) for value in typing.get_args(base)]
        return f"{', '.join(values[:-1])} or {values[-1]}" if len(values) > 1 else values[0]
    if typing.get_origin(base) is list:
        return "a list"
    return {int: "a whole number", float: "a number", date: "a date, YYYY-MM-DD", bool: ""}.get(
        base, "text"
    )


def _bounds_words(metadata: list[Any]) -> str:
    low = next(
        (m for m in metadata if isinstance(m, annotated_types.Ge | annotated_types.Gt)), None
    )
    high = next(
        (m for m in metadata if isinstance(m, annotated_types.Le | annotated_types.Lt)), None
    )
    if isinstance(low, annotated_types.Ge) and isinstance(high, annotated_types.Le):
        return f"from {low.ge:,} to {high.le:,}"
    words = []
    if low is not None:
        words.append(f"≥ {low.ge:,}" if isinstance(low, annotated_types.Ge) else f"> {low.gt:,}")
    if high is not None:
        words.append(f"≤ {high.le:,}" if isinstance(high, annotated_types.Le) else f"< {high.lt:,}")
    return ", ".join(words)


def accepts_text(cls: type[Settings], name: str, field: FieldInfo) -> str:
    """What the variable accepts, in words: from its type, bounds and validators' `shown_as`."""
    shown = [
        validator.func.shown_as
        for validator in field.metadata
        if hasattr(getattr(validator, "func", None), "shown_as")
    ]
    words = _type_words(field.annotation)
    if shown and words in ("text", "a list"):
        words = shown.pop(0)
    words = " ".join(part for part in (words, _bounds_words(field.metadata)) if part)
    kept = ""
    if cls.is_secret(name):
        kept = SECRET_WORDS if SECRET in field.metadata else PRIVATE_WORDS
    return "; ".join(part for part in (kept, words, *shown) if part)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rows(cls: type[Settings]) -> Iterator[str]:
    for name, field in own_fields(cls).items():
        if not field.description:
            raise ValueError(f"{cls.__name__}.{name} ({_variable(name, field)}) has no description")
        cells = [
            _code(_variable(name, field)),
            default_text(cls, name, field),
            accepts_text(cls, name, field),
            field.description,
        ]
        yield "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _class_section(cls: type[Settings], path: Path, root: Path) -> str:
    doc = " ".join((cls.__doc__ or "").split())
    inherited = [
        f"{_code(_variable(name, field))} ({base.__name__})"
        for base in cls.__mro__[1:]
        if issubclass(base, Settings) and base is not Settings
        for name, field in own_fields(base).items()
    ]
    lines = [f"### `{cls.__name__}`", "", f"{doc} Declared in `{path.relative_to(root)}`."]
    if inherited:
        lines += ["", f"Also reads {', '.join(inherited)}, listed where declared."]
    lines += ["", "| variable | default | accepts | description |", "|---|---|---|---|"]
    return "\n".join([*lines, *_rows(cls)])


def declared_variables(package_dir: Path = PACKAGE_DIR, package: str = "glimpse_assets"):
    """variable -> the classes that declare it (one each, or the reference is refused)."""
    declared: dict[str, list[str]] = {}
    for _section, module, _path in settings_modules(package_dir, package):
        for cls in settings_classes(module):
            for name, field in own_fields(cls).items():
                declared.setdefault(_variable(name, field), []).append(f"{module}.{cls.__name__}")
    return declared


def render(package_dir: Path = PACKAGE_DIR, package: str = "glimpse_assets") -> str:
    """The reference, as Markdown."""
    twice = {
        v: where for v, where in declared_variables(package_dir, package).items() if len(where) > 1
    }
    if twice:
        raise ValueError(f"declared more than once (declare each variable once): {twice}")
    sections: dict[str, list[str]] = {}
    for section, module, path in settings_modules(package_dir, package):
        for cls in settings_classes(module):
            sections.setdefault(section, []).append(_class_section(cls, path, package_dir.parent))
    body = [f"## {title}\n\n" + "\n\n".join(parts) for title, parts in sections.items()]
    return "\n\n".join([INTRO.rstrip("\n"), *body]) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        current = REFERENCE.read_text("utf-8") if REFERENCE.exists() else ""
        if current != text:
            print(f"{REFERENCE} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    REFERENCE.write_text(text, "utf-8")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
