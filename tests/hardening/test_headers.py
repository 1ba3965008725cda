"""Browser security headers on every response of a real `latentct serve`: the page, static files, the API, the image
fast path (which answers past FastAPI), errors the middleware stack makes itself (413, CORS preflight), and the
app server's own 431.

The policy itself is checked in a real browser in tests/e2e/test_csp.py; here: every response carries the headers.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.hardening.conftest import ALLOWED_ORIGIN
from tests.support.serverproc import ServerProcess, raw_request

MODEL = "/api/models/tiny-gan"
EVERYWHERE = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}
POLICY_PARTS = ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "img-src 'self' blob: data:")


@pytest.fixture(scope="module")
def client(hardened_server: ServerProcess) -> Iterator[httpx.Client]:
    with hardened_server.client() as http:
        yield http


def assert_secured(response: httpx.Response, what: str, policy: bool = True) -> None:
    for name, value in EVERYWHERE.items():
        assert response.headers.get(name) == value, (what, response.status_code, name, dict(response.headers))
        assert len(response.headers.get_list(name)) == 1, (what, name)  # added once, never twice
    csp = response.headers.get("content-security-policy")
    if policy:
        assert csp is not None and all(part in csp for part in POLICY_PARTS), (what, csp)
    else:
        assert csp is None, (what, csp)


def test_the_page_static_files_and_api_answers_carry_the_headers(client: httpx.Client) -> None:
    requests = {
        "page": client.get("/"),
        "page (explore)": client.get("/", params={"view": "explore", "model": "tiny-gan"}),
        "script": client.get("/static/js/main.js"),
        "stylesheet": client.get("/static/css/app.css"),
        "health": client.get("/api/health"),
        "models": client.get("/api/models"),
        "openapi": client.get("/openapi.json"),
        "traversal.png": client.get(f"{MODEL}/traversal.png", params={"set": "random", "direction": 0, "steps": 2}),
        "traversal.gif": client.get(f"{MODEL}/traversal.gif", params={"set": "random", "direction": 0, "steps": 2}),
        "stream": client.get(f"{MODEL}/traversal/stream", params={"set": "random", "direction": 0, "steps": 2, "fps": 30}),
        "render": client.post(f"{MODEL}/render", json={"seed": 1}),
    }
    for what, response in requests.items():
        assert response.status_code == 200, (what, response.status_code)
        assert_secured(response, what)


def test_the_image_fast_path_and_the_route_behind_it_carry_the_headers(client: httpx.Client) -> None:
    fast = client.get(f"{MODEL}/image.png", params={"seed": 11})  # plainly well-formed: answered by api/fast_image.py
    routed = client.get(f"{MODEL}/image.png?seed=11&seed=11")  # a parameter twice: the fast path passes it on
    cached = client.get(f"{MODEL}/image.png", params={"seed": 11}, headers={"If-None-Match": fast.headers["etag"]})
    assert (fast.status_code, routed.status_code, cached.status_code) == (200, 200, 304)
    for what, response in (("fast path", fast), ("route", routed), ("304", cached)):
        assert_secured(response, what)
    missing_set = client.get(f"{MODEL}/image.png", params={"seed": 1, "set": "nope", "shift": "0:1"})  # fast path's 404
    assert missing_set.status_code == 404
    assert_secured(missing_set, "fast path 404")


def test_errors_carry_the_headers(client: httpx.Client) -> None:
    requests = {
        "404": client.get("/api/models/no-such-model"),
        "422": client.get(f"{MODEL}/image.png", params={"seed": -1}),
        "401": client.get("/api/labels"),
        "413": client.post(f"{MODEL}/render", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                           headers={"Content-Type": "application/json"}),
        "405": client.delete("/api/models"),
    }
    for what, response in requests.items():
        assert response.status_code == int(what), (what, response.status_code)
        assert_secured(response, what)


def test_the_api_documentation_pages_keep_their_cdn_scripts_and_get_the_other_headers(client: httpx.Client) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200 and "<script" in response.text
        assert_secured(response, path, policy=False)


def test_cors_answers_carry_the_headers(configured_server: ServerProcess) -> None:
    with configured_server.client() as client:
        preflight = client.options("/api/labels", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert_secured(preflight, "preflight")
        image = client.get(f"{MODEL}/image.png", headers={"Origin": ALLOWED_ORIGIN})
        assert image.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert_secured(image, "cross-origin image")


def test_the_app_servers_own_431_is_not_sniffed(hardened_server: ServerProcess) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", hardened_server.port), timeout=30) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: {'y' * 70_000}\r\n\r\n".encode())
        head = sock.makefile("rb").read().partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 431") and b"x-content-type-options: nosniff" in head
    assert raw_request(hardened_server.port, "GET /api/health HTTP/1.1")[0] == 200
