"""Numbers in request text are ASCII, JSON bodies are taken as their JSON types: through a real `latentct serve`.

`str.isdigit()` is true for '²', which `int()` refuses (a 500 and two tracebacks per request), and `int()`/`float()`
take Arabic-Indic and full-width digits, '_' separators and 'infinity'. Every such value must be a 422 (REST) or a
JSON error (the live socket) naming the value and what is allowed, with nothing but access lines in the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.serverproc import ServerProcess

MODEL = "/api/models/tiny-gan"
# superscript, circled, Arabic-Indic, Extended Arabic-Indic, full-width, Devanagari digits; '_'; non-decimal floats
UNICODE_DIGITS = ["²", "³", "¹", "⁰", "①", "٣", "۳", "３", "१"]
NOT_ASCII_DECIMALS = [*UNICODE_DIGITS, "1_0", "infinity", "nan", "0x1", "1e", "--1", "1.2.3"]
TRAVERSALS = ("/traversal.png", "/traversal.gif", "/traversal/stream")


@pytest.fixture(scope="module")
def client(hardened_server: ServerProcess) -> Iterator[httpx.Client]:
    with hardened_server.client() as http:
        yield http


class LogWatch:
    """What the server logged from a point on: these tests must add no traceback and no ERROR line."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.start = len(server.log())

    def new(self) -> str:
        return self.server.log()[self.start :]

    def assert_clean(self) -> None:
        new = self.new()
        assert "Traceback" not in new and "ERROR" not in new and "unhandled error" not in new, new[-3000:]


@pytest.fixture
def log(hardened_server: ServerProcess) -> LogWatch:
    return LogWatch(hardened_server)


def assert_422_naming(response: httpx.Response, value: str, allowed: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text[:300])
    detail = response.json()["detail"]
    assert value in detail and allowed in detail, detail


# query parameters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_in_a_shift_index_are_422_on_every_image_endpoint(client: httpx.Client, log: LogWatch, digit: str) -> None:
    query = {"set": "random", "shift": f"{digit}:1"}
    assert_422_naming(client.get(f"{MODEL}/image.png", params=query), repr(digit), "ASCII digits 0-9")
    for path in TRAVERSALS:
        response = client.get(MODEL + path, params={**query, "direction": 0, "steps": 2})
        assert_422_naming(response, repr(digit), "ASCII digits 0-9")
    log.assert_clean()


@pytest.mark.parametrize("text", NOT_ASCII_DECIMALS)
def test_shift_values_and_windows_must_be_ascii_decimals(client: httpx.Client, log: LogWatch, text: str) -> None:
    shifted = client.get(f"{MODEL}/image.png", params={"set": "random", "shift": f"0:{text}"})
    assert_422_naming(shifted, repr(text), "decimal number of ASCII digits")
    for window in (f"{text},40", f"400,{text}"):
        response = client.get(f"{MODEL}/traversal.png", params={"set": "random", "direction": 0, "window": window})
        assert_422_naming(response, repr(text), "decimal number of ASCII digits")
    log.assert_clean()


def test_the_ascii_forms_still_render(client: httpx.Client, log: LogWatch) -> None:
    for shift in ("0:1", "0:-1.5", "0:.5", "0:2.", "0:1e-1", "0:+2E0", "00:1", " 1 :  2 "):
        response = client.get(f"{MODEL}/image.png", params={"set": "random", "shift": shift})
        assert response.status_code == 200 and response.content.startswith(b"\x89PNG"), (shift, response.text[:200])
    for window in ("1500,-600", "1500.0, -600", "1.5e3,-6e2", "lung"):
        assert client.get(f"{MODEL}/image.png", params={"window": window}).status_code == 200, window
    same = [client.get(f"{MODEL}/image.png", params={"set": "random", "shift": s}).headers["etag"] for s in ("0:1", "0:1.0")]
    assert same[0] == same[1]  # equal values normalise equally, as before
    log.assert_clean()


# JSON bodies of POST /render -------------------------------------------------------------------------------------


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_unicode_digits_in_render_shifts_are_422(client: httpx.Client, log: LogWatch, digit: str) -> None:
    response = client.post(f"{MODEL}/render", json={"seed": 1, "set": "random", "shifts": {digit: 1}})
    assert_422_naming(response, repr(digit), "ASCII digits 0-9")
    log.assert_clean()


STRICT_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"seed": "1"}, "'seed'", "'1'"),
    ({"seed": 1.0}, "'seed'", "1.0"),
    ({"seed": True}, "'seed'", "True"),
    ({"latent": [True, False] * 8}, "'latent[0]'", "True"),
    ({"latent": ["0.5"] * 16}, "'latent[0]'", "'0.5'"),
    ({"seed": 1, "set": "random", "shifts": {"0": True}}, "'shifts.0'", "True"),
    ({"seed": 1, "set": "random", "shifts": {"0": "1"}}, "'shifts.0'", "'1'"),
    ({"seed": 1, "scale": "2"}, "'scale'", "'2'"),
    ({"seed": 1, "scale": 2.0}, "'scale'", "2.0"),
    ({"seed": 1, "window": 5}, "'window'", "5"),
]


@pytest.mark.parametrize(("body", "field", "value"), STRICT_CASES)
def test_render_bodies_are_strict_json_types(
    client: httpx.Client, log: LogWatch, body: dict[str, Any], field: str, value: str
) -> None:
    response = client.post(f"{MODEL}/render", json=body)
    assert_422_naming(response, field, "valid")
    assert f"got {value}" in response.json()["detail"], response.json()["detail"]
    log.assert_clean()


def test_render_still_takes_json_integers_where_floats_are_expected(client: httpx.Client, log: LogWatch) -> None:
    latent_dim = client.get(MODEL).json()["latent_dim"]
    for body in ({"latent": [0, 1] * (latent_dim // 2)}, {"seed": 1, "set": "random", "shifts": {"0": 2}, "scale": 2}):
        response = client.post(f"{MODEL}/render", json=body)
        assert response.status_code == 200 and response.content.startswith(b"\x89PNG"), response.text[:200]
    log.assert_clean()


# the live socket -------------------------------------------------------------------------------------------------


def _exchange(socket: ClientConnection, message: dict[str, Any]) -> str | bytes:
    socket.send(json.dumps(message))
    return socket.recv(timeout=30)


def test_live_messages_with_unicode_digits_or_lax_types_get_a_json_error_naming_the_value(
    hardened_server: ServerProcess, log: LogWatch
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [({"seed": 1, "set": "random", "shifts": {d: 1}}, repr(d)) for d in UNICODE_DIGITS]
    cases += [({"seed": 1, "set": "random", "window": "1_000,40"}, "'1_000'")]
    cases += [(body, value) for body, _, value in STRICT_CASES if "latent" not in body]  # live messages have no latent
    with connect(f"ws://127.0.0.1:{hardened_server.port}/api/models/tiny-gan/live") as socket:
        for message, value in cases:
            answer = _exchange(socket, message)
            assert isinstance(answer, str), (message, "rendered instead of refused")
            error = json.loads(answer)["error"]
            assert value in error and "invalid literal" not in error, (message, error)
        frame = _exchange(socket, {"seed": 1, "set": "random", "shifts": {"0": 1.5}})  # the socket stays usable
        assert isinstance(frame, bytes) and frame.startswith(b"\x89PNG")
    log.assert_clean()
