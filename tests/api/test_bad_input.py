"""Bad input on every parameter of the contract: the contract's 4xx with a message naming the problem, never a 500."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.api.test_encode import dicom_bytes, npy_bytes, png_bytes, thorax_hu

GAN = "/api/models/tiny-gan"
IMAGE = f"{GAN}/image.png"
TRAVERSAL = {"set": "sefa", "direction": 0}

# (path, query, status, a fragment the message must contain)
GET_CASES: list[tuple[str, dict[str, object] | list[tuple[str, str]], int, str]] = [
    # model
    ("/api/models/nope/image.png", {}, 404, "nope"),
    ("/api/models/nope", {}, 404, "nope"),
    ("/api/models/bad id!/image.png", {}, 422, "not a valid id"),
    ("/api/models/" + "m" * 65, {}, 422, "model"),
    # seed
    (IMAGE, {"seed": -1}, 422, "seed"),
    (IMAGE, {"seed": 2**31}, 422, "seed"),
    (IMAGE, {"seed": "abc"}, 422, "seed"),
    (IMAGE, {"seed": "1.5"}, 422, "seed"),
    (IMAGE, {"seed": "nan"}, 422, "seed"),
    (IMAGE, {"seed": "inf"}, 422, "seed"),
    (IMAGE, {"seed": ""}, 422, "seed"),
    # set
    (IMAGE, {"set": "nope"}, 404, "nope"),
    (IMAGE, {"set": "../random"}, 422, "not a valid id"),
    (IMAGE, {"set": "s" * 65}, 422, "set"),
    # shift
    (IMAGE, {"shift": "0:1"}, 422, "`set` is required"),
    (IMAGE, {"set": "sefa", "shift": "abc"}, 422, "k:v"),
    (IMAGE, {"set": "sefa", "shift": "1"}, 422, "k:v"),
    (IMAGE, {"set": "sefa", "shift": "x:1"}, 422, "direction index"),
    (IMAGE, {"set": "sefa", "shift": "-1:1"}, 422, "direction index"),
    (IMAGE, {"set": "sefa", "shift": "1.5:1"}, 422, "direction index"),
    (IMAGE, {"set": "sefa", "shift": "0:abc"}, 422, "not a number"),
    (IMAGE, {"set": "sefa", "shift": "0:"}, 422, "not a number"),
    (IMAGE, {"set": "sefa", "shift": "0:nan"}, 422, "finite"),
    (IMAGE, {"set": "sefa", "shift": "0:inf"}, 422, "finite"),
    (IMAGE, {"set": "sefa", "shift": "0:-inf"}, 422, "finite"),
    (IMAGE, {"set": "sefa", "shift": "0:30.001"}, 422, "abs(value) <= 30"),
    (IMAGE, {"set": "sefa", "shift": "0:-31"}, 422, "abs(value) <= 30"),
    (IMAGE, {"set": "sefa", "shift": "0:1e999"}, 422, "finite"),
    (IMAGE, {"set": "sefa", "shift": "4:1"}, 404, "no direction 4"),
    (IMAGE, {"set": "sefa", "shift": "999999999999:1"}, 422, "direction index"),
    (IMAGE, [("set", "sefa"), ("shift", "0:1"), ("shift", "0:2")], 422, "twice"),
    # window
    (IMAGE, {"window": "foo"}, 422, "window 'foo'"),
    (IMAGE, {"window": ""}, 422, "window"),
    (IMAGE, {"window": "0,0"}, 422, "width"),
    (IMAGE, {"window": "-5,0"}, 422, "width"),
    (IMAGE, {"window": "1e9,0"}, 422, "width"),
    (IMAGE, {"window": "100,1e9"}, 422, "level"),
    (IMAGE, {"window": "nan,0"}, 422, "finite"),
    (IMAGE, {"window": "100,inf"}, 422, "finite"),
    (IMAGE, {"window": "100"}, 422, "window"),
    (IMAGE, {"window": "100,200,300"}, 422, "window"),
    (IMAGE, {"window": "100,abc"}, 422, "not a number"),
    (IMAGE, {"window": "w" * 65}, 422, "window"),
    # scale
    (IMAGE, {"scale": 0}, 422, "scale"),
    (IMAGE, {"scale": 9}, 422, "scale"),
    (IMAGE, {"scale": "x"}, 422, "scale"),
    (IMAGE, {"scale": "1.5"}, 422, "scale"),
    (IMAGE, {"scale": "nan"}, 422, "scale"),
    # traversal: direction, extent, steps
    (f"{GAN}/traversal.png", {"set": "sefa"}, 422, "direction"),
    (f"{GAN}/traversal.png", {"direction": 0}, 422, "`set` is required"),
    (f"{GAN}/traversal.png", {"set": "nope", "direction": 0}, 404, "nope"),
    (f"{GAN}/traversal.png", {"set": "sefa", "direction": -1}, 422, "direction"),
    (f"{GAN}/traversal.png", {"set": "sefa", "direction": "x"}, 422, "direction"),
    (f"{GAN}/traversal.png", {"set": "sefa", "direction": 4}, 404, "no direction 4"),
    (f"{GAN}/traversal.png", {"set": "sefa", "direction": 10**12}, 422, "direction"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "extent": 0}, 422, "extent"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "extent": -1}, 422, "extent"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "extent": 30.5}, 422, "extent"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "extent": "nan"}, 422, "extent"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "extent": "inf"}, 422, "extent"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "extent": "x"}, 422, "extent"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "steps": 1}, 422, "steps"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "steps": 65}, 422, "steps"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "steps": "2.5"}, 422, "steps"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "shift": "0:99"}, 422, "abs(value) <= 30"),
    (f"{GAN}/traversal.png", {**TRAVERSAL, "seed": -3}, 422, "seed"),
    # gif: fps
    (f"{GAN}/traversal.gif", {**TRAVERSAL, "fps": 0}, 422, "fps"),
    (f"{GAN}/traversal.gif", {**TRAVERSAL, "fps": 31}, 422, "fps"),
    (f"{GAN}/traversal.gif", {**TRAVERSAL, "fps": "nan"}, 422, "fps"),
    (f"{GAN}/traversal.gif", {**TRAVERSAL, "fps": "x"}, 422, "fps"),
    (f"{GAN}/traversal.gif", {**TRAVERSAL, "window": "bad"}, 422, "window"),
    (f"{GAN}/traversal.gif", {"set": "sefa", "direction": 7}, 404, "no direction 7"),
    # stream: fps, loops
    (f"{GAN}/traversal/stream", {**TRAVERSAL, "fps": 0.5}, 422, "fps"),
    (f"{GAN}/traversal/stream", {**TRAVERSAL, "fps": "inf"}, 422, "fps"),
    (f"{GAN}/traversal/stream", {**TRAVERSAL, "loops": 0}, 422, "loops"),
    (f"{GAN}/traversal/stream", {**TRAVERSAL, "loops": 11}, 422, "loops"),
    (f"{GAN}/traversal/stream", {**TRAVERSAL, "loops": "x"}, 422, "loops"),
    (f"{GAN}/traversal/stream", {"set": "sefa", "direction": 4}, 404, "no direction 4"),
    # direction set info
    (f"{GAN}/directions/nope", {}, 404, "nope"),
    ("/api/models/nope/directions/sefa", {}, 404, "nope"),
]


def _check(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert fragment in detail, detail


@pytest.mark.parametrize(("path", "query", "status", "fragment"), GET_CASES)
def test_bad_query(client, path: str, query: dict[str, object], status: int, fragment: str) -> None:
    _check(client.get(path, params=query), status, fragment)


RENDER = f"{GAN}/render"
Z = [0.0] * 8
RENDER_CASES: list[tuple[object, int, str]] = [
    ({}, 422, "exactly one of"),
    ({"seed": 1, "latent": Z}, 422, "exactly one of"),
    ({"latent": Z[:7]}, 422, "latent_dim = 8"),
    ({"latent": [*Z, 0.0]}, 422, "latent_dim = 8"),
    ({"latent": ["a", *Z[1:]]}, 422, "latent"),
    ({"latent": [1e5, *Z[1:]]}, 422, "abs(value) <= 1000"),
    ({"latent": "zeros"}, 422, "latent"),
    ({"latent": None, "seed": None}, 422, "exactly one of"),
    ({"seed": -1}, 422, "seed"),
    ({"seed": 2**31}, 422, "seed"),
    ({"seed": "x"}, 422, "seed"),
    ({"seed": 1.5}, 422, "seed"),
    ({"seed": 1, "set": "nope"}, 404, "nope"),
    ({"seed": 1, "set": "../x"}, 422, "not a valid id"),
    ({"seed": 1, "shifts": {"0": 1}}, 422, "`set` is required"),
    ({"seed": 1, "set": "sefa", "shifts": {"4": 1}}, 404, "no direction 4"),
    ({"seed": 1, "set": "sefa", "shifts": {"x": 1}}, 422, "direction index"),
    ({"seed": 1, "set": "sefa", "shifts": {"0": 31}}, 422, "abs(value) <= 30"),
    ({"seed": 1, "set": "sefa", "shifts": {"0": "a"}}, 422, "shifts"),
    ({"seed": 1, "set": "sefa", "shifts": [1, 2]}, 422, "shifts"),
    ({"seed": 1, "window": "nope"}, 422, "window"),
    ({"seed": 1, "window": 5}, 422, "window"),
    ({"seed": 1, "scale": 0}, 422, "scale"),
    ({"seed": 1, "scale": 9}, 422, "scale"),
    ({"seed": 1, "colour": "red"}, 422, "colour"),
    ([1, 2, 3], 422, "JSON object"),
    ("seed", 422, "JSON object"),
]


@pytest.mark.parametrize(("body", "status", "fragment"), RENDER_CASES)
def test_bad_render_body(client, body: object, status: int, fragment: str) -> None:
    _check(client.post(RENDER, json=body), status, fragment)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"latent": [NaN, 0, 0, 0, 0, 0, 0, 0]}', "finite"),
        ('{"latent": [Infinity, 0, 0, 0, 0, 0, 0, 0]}', "finite"),
        ('{"latent": [1e400, 0, 0, 0, 0, 0, 0, 0]}', "finite"),
        ('{"seed": 1, "set": "sefa", "shifts": {"0": -Infinity}}', "finite"),
        ('{"seed": 1, "set": "sefa", "shifts": {"0": NaN}}', "finite"),
        ("not json", "not valid JSON"),
        ('{"seed": 1', "not valid JSON"),
        ("", "required"),
    ],
)
def test_render_non_finite_and_non_json(client, raw: str, fragment: str) -> None:
    response = client.post(RENDER, content=raw.encode(), headers={"Content-Type": "application/json"})
    _check(response, 422, fragment)


def test_render_wrong_content_type_and_huge_body(client) -> None:
    _check(client.post(RENDER, content=b"seed=1", headers={"Content-Type": "text/plain"}), 422, "JSON object")
    _check(client.post(RENDER, content=b" " * (1024 * 1024 + 1), headers={"Content-Type": "application/json"}), 413, "at most")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b" " * 32768

    _check(client.post(RENDER, content=chunks(), headers={"Content-Type": "application/json"}), 413, "at most")


def _upload(client, name: str, data: bytes, model: str = "tiny-vae") -> httpx.Response:
    return client.post(f"/api/models/{model}/encode", files={"file": (name, data, "application/octet-stream")})


def _object_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _huge_declared_png() -> bytes:
    data = bytearray(png_bytes(np.zeros((16, 16), np.uint8)))
    data[16:24] = (50000).to_bytes(4, "big") + (50000).to_bytes(4, "big")  # IHDR width, height (CRC now wrong too)
    return bytes(data)


def _truncated_dicom() -> bytes:
    return dicom_bytes(thorax_hu())[:400]


def _dicom_without_pixels() -> bytes:
    data = dicom_bytes(thorax_hu())
    return data[: data.index(b"\xe0\x7f\x10\x00")]  # cut at the PixelData tag (7FE0,0010)


UPLOAD_CASES: list[tuple[str, bytes, int, str]] = [
    ("empty.dcm", b"", 400, "empty"),
    ("notes.txt", b"hello, this is not an image", 415, "not a supported image"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 100, 415, "DICOM"),
    ("corrupt.dcm", b"\0" * 128 + b"DICM" + b"\x07\x00garbage" * 50, 400, "DICOM"),
    ("noheader.dcm", b"garbage" * 100, 400, "DICOM"),
    ("truncated.dcm", _truncated_dicom(), 400, "DICOM"),
    ("nopixels.dcm", _dicom_without_pixels(), 400, "DICOM"),
    ("truncated.png", png_bytes(np.zeros((64, 64), np.uint8))[:60], 400, "PNG"),
    ("huge.png", _huge_declared_png(), 400, "PNG"),
    ("tiny.npy", npy_bytes(np.zeros((2, 2), np.float32)), 400, "8..4096"),
    ("volume.npy", npy_bytes(np.zeros((4, 16, 16), np.float32)), 400, "2-D"),
    ("nan.npy", npy_bytes(np.full((16, 16), np.nan, np.float32)), 400, "non-finite"),
    ("big.npy", npy_bytes(np.full((16, 16), 1e9, np.float32)), 400, "HU"),
    ("text.npy", npy_bytes(np.array([["a"] * 16] * 16)), 400, "numbers"),
    ("complex.npy", npy_bytes(np.zeros((16, 16), np.complex64)), 400, "real"),
    ("pickle.npy", _object_npy(), 400, ".npy"),
    ("truncated.npy", npy_bytes(np.zeros((64, 64), np.float32))[:200], 400, ".npy"),
]


@pytest.mark.parametrize(("name", "data", "status", "fragment"), UPLOAD_CASES, ids=[c[0] for c in UPLOAD_CASES])
def test_bad_upload(client, name: str, data: bytes, status: int, fragment: str) -> None:
    _check(_upload(client, name, data), status, fragment)


def test_bad_upload_requests(client) -> None:
    _check(client.post("/api/models/tiny-vae/encode"), 422, "file")
    _check(client.post("/api/models/tiny-vae/encode", json={"file": "x"}), 422, "file")
    _check(client.post("/api/models/tiny-vae/encode", files={"other": ("x.npy", b"1")}), 422, "file")
    _check(_upload(client, "x.npy", npy_bytes(thorax_hu()), model="nope"), 404, "nope")


def test_upload_over_16_mib_is_413(client) -> None:
    just_over = np.zeros(16 * 1024 * 1024 // 4 + 1024, np.float32)  # within the multipart allowance: checked in the route
    _check(_upload(client, "big.npy", npy_bytes(just_over)), 413, "16 MiB")
    _check(_upload(client, "huge.npy", b"\0" * (20 << 20)), 413, "16 MiB")  # refused from its Content-Length


def test_no_500_and_the_server_still_serves(client) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.get(IMAGE).status_code == 200


def test_bad_png_modes_are_read_or_refused_cleanly(client) -> None:
    for mode in ("1", "P", "LA", "RGBA", "I;16"):
        image = Image.new(mode, (16, 16))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        assert _upload(client, f"{mode}.png", buffer.getvalue()).status_code == 200, mode


def test_ws_message_too_long_is_an_error_frame(server) -> None:
    from websockets.sync.client import connect

    with connect(f"{server.ws_url}/api/models/tiny-gan/live") as ws:
        ws.send(json.dumps({"seed": 1, "window": "x" * 70_000}))
        assert "at most" in json.loads(ws.recv(timeout=10))["error"]


@pytest.mark.parametrize(
    "raw_path",
    [
        "/api/models/%FF/image.png",
        "/api/models/%ED%A0%80/image.png",
        "/api/models/%00/image.png",
        "/api/models/tiny-gan/image.png?window=%ED%A0%80",
        "/api/models/tiny-gan/image.png?set=%FF%FE",
        "/api/models/tiny-gan/image.png?seed=%00",
        "/api/models/tiny-gan/image.png?set=sefa&shift=0:%ED%A0%80",
        "/api/models/tiny-gan/directions/%ED%A0%80",
    ],
)
def test_odd_bytes_in_urls(server, raw_path: str) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        response = client.get(httpx.URL(server.base_url + raw_path))
    assert 400 <= response.status_code < 500, (response.status_code, response.text)


def test_lone_surrogates_in_json_bodies(client) -> None:
    for raw in ('{"seed": 1, "window": "\\ud800"}', '{"seed": 1, "col\\udc00": 1}', '{"seed": 1, "set": "\\ud800"}',
                '{"seed": 1, "set": "sefa", "shifts": {"\\ud800": 1}}'):
        response = client.post(RENDER, content=raw.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 422, (raw, response.status_code, response.text)
        assert response.json()["detail"]
