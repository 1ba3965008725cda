"""Browser security headers on every HTTP response, as pure ASGI middleware (the outermost one, see app.py).

The web app is one page of same-origin ES modules and one stylesheet: no inline script, style element or handler, no
remote origin. Its images come from the API as blobs and are drawn with createImageBitmap or shown through `blob:`
URLs (review.js); the page's icon is `data:,` (so the browser does not ask for /favicon.ico); styles set from script
go through CSSOM (`node.style`), which a policy does not restrict, never through `style` attributes. The policy allows
exactly that. The label page holds a bearer token, so no other site may frame it (clickjacking):
`frame-ancestors 'none'` and, for browsers without CSP level 2, `X-Frame-Options: DENY`. `nosniff` keeps a browser
from running a PNG or a JSON error as script or HTML; `no-referrer` keeps query strings (seeds, shifts) off other
sites. FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from a CDN with inline script; they get every header
but the CSP (a policy that let them run would allow what this one exists to refuse).

Being outermost, it also covers the image fast path (api/fast_image.py), which answers past FastAPI's routing, and
the body limit's 413. A header a response already carries is left as the response set it.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
CSP_HEADER = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii"))


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, csp_exempt_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.csp_exempt_paths = frozenset(path for path in csp_exempt_paths if path)
        self._all = (*HEADERS, CSP_HEADER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # WebSocket handshakes carry no document
            await self.app(scope, receive, send)
            return
        extra = HEADERS if scope["path"] in self.csp_exempt_paths else self._all

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
