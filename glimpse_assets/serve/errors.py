"""Every error answered as JSON `{"detail": ...}`, including validation errors and crashes.

Validation errors leave out FastAPI's echo of the input: it can be a whole 2 MB body, and what a
caller sent can hold values JSON cannot carry back (NaN, half a UTF-16 surrogate pair), which
would turn a 422 into a 500. Responses are rendered as ASCII JSON for the same reason.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """An error the service answers with (but validation errors): `{"detail": "..."}`."""

    detail: str


class AsciiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


def validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "type": str(item["type"]),
            "loc": [_part(part) for part in item["loc"]],
            "msg": item["msg"],
        }
        for item in error.errors()
    ]


def _part(part: Any) -> str | int:
    return part if isinstance(part, int) and not isinstance(part, bool) else str(part)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    return AsciiJSONResponse(status_code=422, content={"detail": validation_errors(error)})


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Uvicorn logs the traceback (Starlette raises the error again after this response).
    return AsciiJSONResponse(status_code=500, content={"detail": "internal error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _internal_error)
