"""Every error answered as JSON `{"detail": ...}`, including validation errors and crashes.

A validation error names where the problem is and what kind it is, never what was sent: no
`input` or `ctx`; a `loc` part that is not a name of this API (a dict key, an unknown field: a
phone number, or 1.9 MB of text) is shown as `*`; the message is pydantic's sentence for the
kind, filled only with the schema's own limits (`at most 100 characters`) and cut before any
part made from the input (`Value error, <what the validator said>` is `Value error`). What a
caller sent can also hold values JSON cannot carry back (NaN, half a UTF-16 surrogate pair),
which would turn a 422 into a 500; responses are rendered as ASCII JSON for the same reason.

A storage that cannot take a write gets its own answer instead of a 500: full 507, read-only
503, unreachable or stalled (the service's S3 calls are bounded, see `object_store`) 503.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from glimpse_assets.storage.object_store import (
    StorageFullError,
    StorageReadOnlyError,
    StorageUnavailableError,
)

log = logging.getLogger(__name__)

HIDDEN = "*"
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})
# pydantic's own labels in a `loc`: a dict key's own check, the branches of a union.
_LABELS = frozenset({"[key]", "str", "int", "float", "bool", "list", "dict", "date", "datetime"})
# Context a message may quote: limits and choices from the schema, never the input.
_SCHEMA_CONTEXT = frozenset(
    {
        *("ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length", "pattern"),
        *("expected", "expected_schemes", "expected_tags", "expected_version", "discriminator"),
        *("field_type", "class", "class_name", "method_name", "encoding", "tz_expected"),
        *("max_digits", "decimal_places", "whole_digits"),
    }
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

STORAGE_ANSWERS: dict[type[Exception], tuple[int, str]] = {
    StorageFullError: (507, "storage is full: nothing more can be stored until space is freed"),
    StorageReadOnlyError: (503, "storage is read-only: nothing can be stored now"),
    StorageUnavailableError: (503, "storage is unavailable: it did not answer; try again later"),
}


class ErrorDetail(BaseModel):
    """An error the service answers with (but validation errors): `{"detail": "..."}`."""

    detail: str


class AsciiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


@functools.cache
def _templates() -> Mapping[str, str]:
    """pydantic's message template of each built-in error type (none if it cannot say)."""
    try:
        from pydantic_core._pydantic_core import list_all_errors
    except ImportError:
        return {}
    return {item["type"]: item["message_template_python"] for item in list_all_errors()}


def _kind(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def problem(kind: str, context: Mapping[str, Any] | None) -> str:
    """The sentence for an error of type `kind`: its template filled from the schema's context,
    cut at the clause before a placeholder that is not (`Invalid JSON: {error}` -> `Invalid
    JSON`). Kinds pydantic does not know (a route's own) are named, not quoted."""
    template = _templates().get(kind)
    if template is None:
        return _kind(kind)
    context = context or {}
    text, at, number = "", 0, None
    for match in _PLACEHOLDER.finditer(template):
        text += template[at : match.start()]
        at, name = match.end(), match.group(1)
        if name == "expected_plural":
            text += "" if number == 1 else "s"
        elif name in _SCHEMA_CONTEXT and name in context:
            value = context[name]
            number = value if isinstance(value, int) else number
            text += str(value)
        else:
            cut = max(text.rfind(", "), text.rfind(": "))
            return text[:cut] if cut > 0 else _kind(kind)
    return text + template[at:]


def _api_names(app: FastAPI) -> frozenset[str]:
    """Every parameter and property name in the API's OpenAPI: what a `loc` may repeat."""
    names = set(_SOURCES | _LABELS)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(
                node.get("properties", {}) if isinstance(node.get("properties"), dict) else ()
            )
            if node.get("in") in _SOURCES and isinstance(node.get("name"), str):
                names.add(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(app.openapi())
    return frozenset(names)


def validation_errors(error: RequestValidationError, names: frozenset[str]) -> list[dict[str, Any]]:
    return [
        {
            "type": str(item["type"]),
            "loc": [_part(part, names) for part in item["loc"]],
            "msg": problem(str(item["type"]), item.get("ctx")),
        }
        for item in error.errors()
    ]


def _part(part: Any, names: frozenset[str]) -> str | int:
    if isinstance(part, int) and not isinstance(part, bool):
        return part  # a position in a list
    return part if isinstance(part, str) and part in names else HIDDEN


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    state = request.app.state
    if getattr(state, "error_names", None) is None:
        state.error_names = _api_names(request.app)
    detail = validation_errors(error, state.error_names)
    return AsciiJSONResponse(status_code=422, content={"detail": detail})


async def _storage_fault(request: Request, error: Exception) -> JSONResponse:
    status, detail = next(
        answer for kind, answer in STORAGE_ANSWERS.items() if isinstance(error, kind)
    )
    route = getattr(request.scope.get("route"), "path", "?")  # the template, not the URL
    cause = error.__cause__  # the OS's words or botocore's error class, never a key or a path
    reason = getattr(cause, "strerror", None) or (type(cause).__name__ if cause else "-")
    log.warning(
        "glimpse serve: %s %s answered %s: %s (%s)", request.method, route, status, detail, reason
    )
    return AsciiJSONResponse(status_code=status, content={"detail": detail})


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Uvicorn logs the traceback (Starlette raises the error again after this response).
    return AsciiJSONResponse(status_code=500, content={"detail": "internal error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for kind in STORAGE_ANSWERS:
        app.add_exception_handler(kind, _storage_fault)
    app.add_exception_handler(Exception, _internal_error)
