"""uvicorn's fast (httptools) HTTP/1.1 protocol with a bound on the request head.

httptools buffers a request line and headers of any size (a 64 MiB header was answered 200 in our hardening test),
so a client could make every worker hold as much memory as it sends. h11 has a bound but parses in Python, which
costs throughput on every request. This subclass keeps httptools and counts the bytes received while the head of a
request is incomplete; past `max_header_bytes` it answers 431 and stops parsing, before the parser has seen more
than one socket read beyond the bound. It then closes in the lingering way: it half-closes (the client reads the 431
and an end of stream), discards what the client still sends and drops the connection after LINGER_S at most, so
the kernel does not reset the connection (which can destroy the 431 before the client has read it).

It relies on three hooks of uvicorn's HttpToolsProtocol (data_received, on_headers_complete, on_message_complete),
stable since uvicorn 0.30; tests/hardening covers it through a real server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger("latentct.api")
LINGER_S = 2.0


@functools.cache
def configured_max_header_bytes() -> int:
    """The worker's LATENTCT_MAX_HEADER_BYTES (settings are read once per process)."""
    from latentct.config import Settings

    return Settings().max_header_bytes


class BoundedHeadersProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses a request whose line and headers exceed max_header_bytes with 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = configured_max_header_bytes()
        self._head_bytes = 0
        self._head_complete = False
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering: discard
        if not self._head_complete:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._head_complete and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._head_complete = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_complete, self._head_bytes = False, 0  # the next request on this keep-alive connection

    def _refuse_head(self) -> None:
        message = f"request line and headers exceed {self.max_header_bytes} bytes (LATENTCT_MAX_HEADER_BYTES)".encode()
        logger.warning("refused a request head of more than %d bytes from %s", self.max_header_bytes, self.client)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + message
        )
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
            asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()
