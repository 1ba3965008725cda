"""The app server's protocol edges through a real `latentct serve`: over-long URLs, and text on the live socket that
is not UTF-8.

A URL of 64-256 KiB arrives within one socket read, so the byte count of an incomplete head never saw it, and
httptools' `parse_url` (offsets in 16 bits) refused it: uvicorn answered 400 "Invalid HTTP request received." where
the documented answer is 431. Invalid UTF-8 in a WebSocket text frame was closed rightly with 1007, but logged as
an ERROR with a traceback.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serverproc import ServerProcess, free_port, raw_request, running, server_env

LIMIT = 65536  # LATENTCT_MAX_HEADER_BYTES of the shared server (the default)
LARGE_LIMIT = 256 * 1024


def log_since(server: ServerProcess, start: int) -> str:
    return server.log()[start:]


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text and "ERROR" not in text and "Invalid HTTP request" not in text, text[-3000:]


@pytest.mark.parametrize("url_bytes", [LIMIT - 100, LIMIT + 1, LIMIT + 2000, 100_000, 200_000, 1024 * 1024])
def test_a_url_over_the_head_limit_is_431(hardened_server: ServerProcess, url_bytes: int) -> None:
    start = len(hardened_server.log())
    query = "x" * (url_bytes - len("/api/health?"))
    status, body = raw_request(hardened_server.port, f"GET /api/health?{query} HTTP/1.1")
    head_bytes = len(f"GET /api/health?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    if head_bytes <= LIMIT:
        assert status == 200, (status, body[:200])
    else:
        assert status == 431 and b"exceed 65536 bytes" in body, (status, body[:200])
        assert "refused a request head of more than 65536 bytes" in log_since(hardened_server, start)
    assert_no_traceback(log_since(hardened_server, start))


def test_an_over_long_url_on_a_websocket_upgrade_is_431(hardened_server: ServerProcess) -> None:
    start = len(hardened_server.log())
    key = base64.b64encode(os.urandom(16)).decode()
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    status, _ = raw_request(hardened_server.port, f"GET /api/models/tiny-gan/live?{'x' * 70_000} HTTP/1.1", upgrade)
    assert status == 431
    assert_no_traceback(log_since(hardened_server, start))


@pytest.fixture(scope="module")
def large_limit_server(hardening_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("large-head-limit")
    env = server_env(hardening_dirs[0], root / "var", free_port(), max_header_bytes=LARGE_LIMIT)
    with running(env, root / "server.log") as server:
        yield server


def test_within_a_larger_limit_heads_pass_and_a_url_httptools_cannot_parse_is_414(large_limit_server: ServerProcess) -> None:
    port, start = large_limit_server.port, len(large_limit_server.log())
    assert raw_request(port, "GET /api/health HTTP/1.1", headers={"X-Pad": "y" * 200_000})[0] == 200
    status, body = raw_request(port, f"GET /api/health?{'x' * 70_000} HTTP/1.1")
    assert status == 414 and b"65535 bytes" in body, (status, body[:200])
    status, body = raw_request(port, "GET /api/health HTTP/1.1", headers={"X-Pad": "y" * (LARGE_LIMIT + 1000)})
    assert status == 431 and str(LARGE_LIMIT).encode() in body
    assert_no_traceback(log_since(large_limit_server, start))


# the live socket -----------------------------------------------------------------------------------------------


def _frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (RFC 6455), final, payload under 126 bytes."""
    mask = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _open_live(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/models/tiny-gan/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response[:200]
    return sock


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """(opcode, payload) of one unmasked server frame."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "the server closed without a close frame"
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(exactly(8), "big")
    return first & 0x0F, exactly(length)


def test_invalid_utf8_on_the_live_socket_closes_with_1007_and_one_warning(hardened_server: ServerProcess) -> None:
    start = len(hardened_server.log())
    with _open_live(hardened_server.port) as sock:
        sock.sendall(_frame(0x1, b'{"seed": 2}'))  # a good message first: answered with a PNG
        opcode, payload = _read_frame(sock)
        assert opcode == 0x2 and payload.startswith(b"\x89PNG")
        sock.sendall(_frame(0x1, b'{"seed": "\xff\xfe"}'))  # a text frame that is not UTF-8
        opcode, payload = _read_frame(sock)
        assert opcode == 0x8 and int.from_bytes(payload[:2], "big") == 1007
    new = log_since(hardened_server, start)
    assert_no_traceback(new)
    assert new.count("not UTF-8") == 1 and "WARNING" in new, new
    assert raw_request(hardened_server.port, "GET /api/health HTTP/1.1")[0] == 200
