"""The request body limit: a body over `MAX_BODY_BYTES` is refused (413) before it is read.

This middleware answers a request whose `Content-Length` is over the limit, with the service's
JSON error; a body sent without a length (chunked) is counted as it arrives by FastAPI's own
`max_body_size` on the routes that take a body, which stops reading at the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from glimpse_assets.serve.errors import AsciiJSONResponse

# Room for a document of 1 MB of text (search.inbox.MAX_DOCUMENT_BYTES), escaped as JSON.
MAX_BODY_BYTES = 2_100_000


class ContentLengthLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_bytes:
                response = AsciiJSONResponse(
                    status_code=413,
                    content={  # the length sent is not repeated: errors never echo input
                        "detail": f"the request body is over the limit: at most {self.max_bytes} "
                        "bytes are taken"
                    },
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
