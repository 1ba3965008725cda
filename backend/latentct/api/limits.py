"""Request body limits as pure ASGI middleware: uploads (`/encode`) get the upload limit, every other body a small one.

A declared Content-Length over the limit is refused before anything is read; a body without one is counted as it
arrives and refused the moment it passes the limit. Both answer 413 with a JSON `{"detail"}`.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the uploaded file
UPLOAD_PATH_SUFFIX = "/encode"


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MiB" if size >= 1024 * 1024 else f"{size} bytes"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if str(scope.get("path", "")).endswith(UPLOAD_PATH_SUFFIX):
            return self.max_upload_bytes + MULTIPART_OVERHEAD_BYTES, f"an upload may be at most {_mib(self.max_upload_bytes)}"
        return self.max_body_bytes, f"a request body may be at most {_mib(self.max_body_bytes)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, rule = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send, f"request body of {_mib(declared)} is too large: {rule}")
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request body is too large: {rule}")
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body})
