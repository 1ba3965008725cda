"""uvicorn's fast (httptools) HTTP/1.1 protocol with a bound on the request head.

httptools buffers a request line and headers of any size (a 64 MiB header was answered 200 in our hardening test),
so a client could make every worker hold as much memory as it sends. h11 has a bound but parses in Python, which
costs throughput on every request. This subclass keeps httptools and counts the bytes received while the head of a
request is incomplete; past `max_header_bytes` it answers 431 and stops parsing. The check runs after each socket
read, so a head that arrives complete within one read (up to 256 KiB) passes: the bound on memory is the limit plus
one read. It then closes in the lingering way: it half-closes (the client reads the 431 and an end of stream),
discards what the client still sends and drops the connection after LINGER_S at most, so the kernel does not reset
the connection (which can destroy the 431 before the client has read it). When an earlier request of the same
connection is still being answered (pipelining), no 431 can be written in between: the connection is closed.

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
        self._linger: asyncio.TimerHandle | None = None

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

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_complete, self._head_bytes = False, 0  # the next request on this keep-alive connection

    def _answering_earlier_request(self) -> bool:
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _refuse_head(self) -> None:
        self._refused = True
        if self._answering_earlier_request():
            logger.warning("closed a pipelined connection whose next request head exceeds %d bytes", self.max_header_bytes)
            self.transport.close()
            return
        message = f"request line and headers exceed {self.max_header_bytes} bytes (LATENTCT_MAX_HEADER_BYTES)".encode()
        logger.warning("refused a request head of more than %d bytes from %s", self.max_header_bytes, self.client)
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + message
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger = asyncio.get_running_loop().call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()
