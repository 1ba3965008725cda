"""uvicorn's fast (httptools) HTTP/1.1 protocol with a bound on the request head, and its WebSocket protocol without
a traceback for text that is not UTF-8.

httptools buffers a request line and headers of any size (a 64 MiB header was answered 200 in our hardening test),
so a client could make every worker hold as much memory as it sends. h11 has a bound but parses in Python, which
costs throughput on every request. This subclass keeps httptools and bounds the head twice:
- while it is incomplete, by the bytes received, checked after each socket read, so memory stays within the limit
  plus one read (at most 256 KiB);
- once it is complete, by its parsed size (request line and headers), so a head that arrived within one read is
  held to the same limit. This check runs before uvicorn parses the URL: httptools' `parse_url` refuses a URL over
  65535 bytes, which uvicorn answered 400 "Invalid HTTP request received." for a URL just over the 64 KiB limit.
  A URL over 65535 bytes within a larger configured limit is answered 414.
Past `max_header_bytes` it answers 431 and stops parsing. It then closes in the lingering way: it half-closes (the
client reads the 431 and an end of stream), discards what the client still sends and drops the connection after
LINGER_S at most, so the kernel does not reset the connection (which can destroy the 431 before the client has read
it). When an earlier request of the same connection is still being answered (pipelining), no 431 can be written in
between: the connection is closed.

uvicorn's websockets-sansio protocol logs an ERROR with a traceback when a text message is not UTF-8 (a client's
fault, answered rightly with close code 1007); its subclass below checks first and logs one WARNING line instead.

It relies on hooks of uvicorn's HttpToolsProtocol (data_received, on_headers_complete, on_body, on_message_complete,
handle_websocket_upgrade, ws_protocol_class), stable since uvicorn 0.30, and of WebSocketsSansIOProtocol
(send_receive_event_to_app, frames, handle_parser_exception); tests/hardening covers both through a real server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # an older uvicorn: its WebSocket protocols are kept as they are
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

logger = logging.getLogger("latentct.api")
LINGER_S = 2.0
MAX_URL_BYTES = 65535  # httptools.parse_url keeps offsets in 16 bits and refuses longer URLs
CLOSE_INVALID_TEXT = 1007  # RFC 6455: data inconsistent with the message type (text that is not UTF-8)


@functools.cache
def configured_max_header_bytes() -> int:
    """The worker's LATENTCT_MAX_HEADER_BYTES (settings are read once per process)."""
    from latentct.core.config import Settings

    return Settings().max_header_bytes


class BoundedHeadersProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses a request whose line and headers exceed max_header_bytes with 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = configured_max_header_bytes()
        self._head_bytes = 0
        self._head_complete = False
        self._refused = False
        self._linger: asyncio.TimerHandle | None = None
        if WebSocketsSansIOProtocol is not None and self.ws_protocol_class is WebSocketsSansIOProtocol:
            self.ws_protocol_class = Utf8CheckedWebSocketProtocol  # upgrades are built from this attribute

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: discard
        if not self._head_complete:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._refused or self._head_complete or self.transport.is_closing():
            return
        if self._head_bytes > self.max_header_bytes:
            self._refuse_head(431)

    def on_headers_complete(self) -> None:
        if self._refused:
            return  # a pipelined request behind a refused one: nothing more is answered on this connection
        if self._parsed_head_bytes() > self.max_header_bytes:
            self._refuse_head(431)
            return
        if len(self.url) > MAX_URL_BYTES:  # only where LATENTCT_MAX_HEADER_BYTES is set above 64 KiB
            self._refuse_head(414)
            return
        self._head_complete = True
        super().on_headers_complete()

    def _parsed_head_bytes(self) -> int:
        """Request line and headers as parsed, with their line ends and the blank line after them. Blanks around
        header values are not counted (the parser dropped them), so this never exceeds what was sent."""
        request_line = len(self.parser.get_method()) + 1 + len(self.url) + len(" HTTP/1.1\r\n")
        return request_line + sum(len(name) + len(value) + 4 for name, value in self.headers) + 2

    def on_body(self, body: bytes) -> None:
        if not self._refused:  # the parser goes on through the rest of the read; a refused request has no cycle of its own
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._head_complete, self._head_bytes = False, 0  # the next request on this keep-alive connection

    def handle_websocket_upgrade(self) -> None:
        if not self._refused:
            super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def _answering_earlier_request(self) -> bool:
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _refuse_head(self, status: int) -> None:
        """431 (head over the limit) or 414 (URL over what httptools parses), then the lingering close."""
        self._refused = True
        if self._answering_earlier_request():
            logger.warning("closed a pipelined connection whose next request head exceeds %d bytes", self.max_header_bytes)
            self.transport.close()
            return
        if status == 431:
            phrase, limit = b"Request Header Fields Too Large", self.max_header_bytes
            message = f"request line and headers exceed {limit} bytes (LATENTCT_MAX_HEADER_BYTES)".encode()
            logger.warning("refused a request head of more than %d bytes from %s", limit, self.client)
        else:
            phrase, message = b"URI Too Long", f"the URL exceeds {MAX_URL_BYTES} bytes".encode()
            logger.warning("refused a URL of more than %d bytes from %s", MAX_URL_BYTES, self.client)
        self.transport.write(
            b"HTTP/1.1 " + str(status).encode() + b" " + phrase + b"\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"x-content-type-options: nosniff\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + message
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger = asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()


if WebSocketsSansIOProtocol is not None:

    class Utf8CheckedWebSocketProtocol(WebSocketsSansIOProtocol):
        """uvicorn's WebSocket protocol; a text message that is not UTF-8 closes with 1007 and one WARNING line."""

        def send_receive_event_to_app(self) -> None:
            if self.curr_msg_data_type == "text" and not self.close_sent and not _is_utf8(self.frames):
                self.frames = []
                logger.warning("closed a WebSocket from %s with %d: a text message is not UTF-8", self.client, CLOSE_INVALID_TEXT)
                self.conn.send_close(CLOSE_INVALID_TEXT)
                self.handle_parser_exception()  # tells the app (disconnect 1007), sends the close, drops the connection
                return
            super().send_receive_event_to_app()


def _is_utf8(frames: list[bytes]) -> bool:
    try:
        (frames[0] if len(frames) == 1 else b"".join(frames)).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
