"""Security defaults of a served instance: tokens on writes, closed CORS, ids that cannot leave the models dir,
bounded request sizes, and pickles that are never unpickled."""

from __future__ import annotations

import io
import json
import pickle
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.hardening.conftest import (
    ALLOWED_ORIGIN,
    MAX_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    OUTSIDE_MODEL,
    PICKLED_MODEL,
    SECRET,
    plant_pickle,
)
from tests.support.serverproc import ADMIN_TOKEN, ServerProcess, bearer, new_annotator, raw_request

MIB = 1024 * 1024
LABEL = {"model": "tiny-gan", "set": "random", "direction": 0, "term": "rotation", "confidence": 3}
FOREIGN = "http://evil.example"


@pytest.fixture(scope="module")
def client(hardened_server: ServerProcess) -> Iterator[httpx.Client]:
    with hardened_server.client() as http:
        yield http


def _term(client: httpx.Client) -> str:
    terms = [t["id"] for t in client.get("/api/vocabulary").json() if not t["requires_text"]]
    return terms[0]


# tokens --------------------------------------------------------------------------------------------------------


def test_every_write_endpoint_needs_a_token_and_the_right_role(client: httpx.Client) -> None:
    label = {**LABEL, "term": _term(client)}
    writes = [("POST", "/api/labels", label), ("POST", "/api/annotators", {"name": "Mallory", "role": "admin"})]
    for method, path, body in writes:
        assert client.request(method, path, json=body).status_code == 401
        wrong = client.request(method, path, json=body, headers=bearer("not-a-token"))
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        assert client.request(method, path, json=body, headers={"Authorization": ADMIN_TOKEN}).status_code == 401  # no scheme
    annotator = new_annotator(client, "Dr Security")
    assert client.post("/api/annotators", json={"name": "Eve", "role": "admin"}, headers=bearer(annotator)).status_code == 403
    assert client.get("/api/labels/export", headers=bearer(annotator)).status_code == 403
    assert client.get("/api/annotators", headers=bearer(annotator)).status_code == 403
    for path in ("/api/labels", "/api/labels/export", "/api/annotators", "/api/annotators/me"):
        assert client.get(path).status_code == 401, path
    stored = client.post("/api/labels", json=label, headers=bearer(annotator))
    assert stored.status_code == 201, stored.text


# CORS ----------------------------------------------------------------------------------------------------------


def _preflight(client: httpx.Client, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"
    }
    return client.options("/api/labels", headers=headers)


def test_cors_is_closed_by_default(client: httpx.Client) -> None:
    for path in ("/api/models", "/api/models/tiny-gan/image.png", "/api/vocabulary"):
        response = client.get(path, headers={"Origin": FOREIGN})
        assert response.status_code == 200 and "access-control-allow-origin" not in response.headers, path
    preflight = _preflight(client, FOREIGN)
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-methods" not in preflight.headers


def test_cors_opens_only_for_the_configured_origins(configured_server: ServerProcess) -> None:
    with configured_server.client() as client:
        allowed = client.get("/api/models/tiny-gan/image.png", headers={"Origin": ALLOWED_ORIGIN})
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "etag" in allowed.headers["access-control-expose-headers"].lower()
        preflight = _preflight(client, ALLOWED_ORIGIN)
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-origin" not in client.get("/api/models", headers={"Origin": FOREIGN}).headers
        assert "access-control-allow-origin" not in _preflight(client, FOREIGN).headers


# ids cannot leave the models dir -------------------------------------------------------------------------------

ESCAPES = [
    "GET /api/models/../outside-model HTTP/1.1",
    "GET /api/models/../outside-model/image.png HTTP/1.1",
    "GET /api/models/..%2Foutside-model/image.png HTTP/1.1",
    "GET /api/models/..%2foutside-model HTTP/1.1",
    "GET /api/models/%2e%2e%2foutside-model/image.png HTTP/1.1",
    "GET /api/models/%2E%2E/image.png HTTP/1.1",
    "GET /api/models/%2e%2e HTTP/1.1",
    "GET /api/models/..%5Coutside-model/image.png HTTP/1.1",
    "GET /api/models/%252e%252e%252foutside-model/image.png HTTP/1.1",
    "GET /api/models/%2Fetc%2Fpasswd HTTP/1.1",
    "GET /api/models//etc/passwd/image.png HTTP/1.1",
    "GET /api/models/tiny-gan/directions/..%2F..%2Foutside-model%2Fdirections%2Frandom HTTP/1.1",
    "GET /api/models/tiny-gan/directions/%2e%2e HTTP/1.1",
    "GET /api/models/tiny-gan/image.png?set=../../outside-model/directions/random&shift=0:1 HTTP/1.1",
    "GET /api/models/tiny-gan/image.png?set=..%2F..%2Foutside-model%2Fdirections%2Frandom HTTP/1.1",
    "GET /api/models/tiny-gan/image.png?set=%2Fetc%2Fpasswd HTTP/1.1",
    "GET /api/models/tiny-gan/traversal.png?set=../random&direction=0 HTTP/1.1",
    "GET /api/models/..%2Foutside-model/directions/random/agreement HTTP/1.1",
    "GET /static/../../secret.txt HTTP/1.1",
    "GET /static/..%2F..%2Fsecret.txt HTTP/1.1",
    "GET /static/%2e%2e/%2e%2e/%2e%2e/secret.txt HTTP/1.1",
    "GET /static/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd HTTP/1.1",
    "GET /static//etc/passwd HTTP/1.1",
    "GET /api/../../secret.txt HTTP/1.1",
]


@pytest.mark.parametrize("request_line", ESCAPES)
def test_ids_and_paths_cannot_escape_the_models_dir(hardened_server: ServerProcess, request_line: str) -> None:
    status, body = raw_request(hardened_server.port, request_line)
    assert status in (400, 404, 422), (status, body[:200])
    assert SECRET.encode() not in body and b"root:x:0:0" not in body
    assert not body.startswith(b"\x89PNG")


def test_json_bodies_cannot_name_files_outside(client: httpx.Client) -> None:
    annotator = new_annotator(client, "Dr Paths")
    for set_id in ("../../outside-model/directions/random", "/etc/passwd", "..", "random/../../x"):
        assert client.post("/api/models/tiny-gan/render", json={"seed": 1, "set": set_id}).status_code == 422
        label = {**LABEL, "term": _term(client), "set": set_id}
        assert client.post("/api/labels", json=label, headers=bearer(annotator)).status_code in (404, 422)
    for model_id in ("../outside-model", "%2e%2e", "/etc"):
        label = {**LABEL, "term": _term(client), "model": model_id}
        assert client.post("/api/labels", json=label, headers=bearer(annotator)).status_code in (404, 422)
    assert OUTSIDE_MODEL not in client.get("/api/models").text


# sizes ---------------------------------------------------------------------------------------------------------


def test_bodies_and_uploads_over_the_default_limits_are_413(client: httpx.Client) -> None:
    huge_json = b'{"seed": 1' + b" " * (2 * MIB) + b"}"
    declared = client.post("/api/models/tiny-gan/render", content=huge_json, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and "at most 1 MiB" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must be counted as the body arrives
        yield b'{"seed": 1'
        for _ in range(40):
            yield b" " * 65536
        yield b"}"

    streamed = client.post("/api/models/tiny-gan/render", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    over = client.post("/api/models/tiny-vae/encode", files={"file": ("slice.npy", b"\x00" * (16 * MIB + 1))})
    assert over.status_code == 413 and "16 MiB" in over.json()["detail"]
    under = client.post("/api/models/tiny-vae/encode", files={"file": ("slice.npy", b"\x00" * (16 * MIB - 1024))})
    assert under.status_code in (400, 415), under.text  # inside the limit: refused for its content, not its size
    label_body = {**LABEL, "text": "x" * (2 * MIB)}
    assert client.post("/api/labels", json=label_body, headers=bearer(ADMIN_TOKEN)).status_code == 413


def test_huge_urls_are_refused_without_harm(hardened_server: ServerProcess, client: httpx.Client) -> None:
    shifts = "&".join(f"shift={k}:1" for k in range(20_000))
    status, _ = raw_request(hardened_server.port, f"GET /api/models/tiny-gan/image.png?set=random&{shifts} HTTP/1.1")
    assert 400 <= status < 500, status
    status, _ = raw_request(hardened_server.port, f"GET /api/health?{'x' * MIB} HTTP/1.1")
    assert 400 <= status < 500, status
    assert client.get("/api/health").status_code == 200


def test_huge_headers_are_refused_by_the_app_server_itself(hardened_server: ServerProcess) -> None:
    status, body = raw_request(hardened_server.port, "GET /api/health HTTP/1.1", headers={"X-Big": "y" * MIB})
    assert status == 431 and b"exceed 65536 bytes" in body and b"LATENTCT_MAX_HEADER_BYTES" in body
    assert "refused a request head of more than 65536 bytes" in hardened_server.log()


def _head(size: int) -> bytes:
    return f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {'y' * size}\r\n\r\n".encode()


def _send_in_pieces(sock: socket.socket, data: bytes, pieces: int) -> None:
    """Several socket reads for the server: the head is incomplete between them, which is when it is counted."""
    step = -(-len(data) // pieces)
    for start in range(0, len(data), step):
        sock.sendall(data[start : start + step])
        time.sleep(0.05)


def _read_response(reader: io.BufferedReader) -> tuple[int, bytes]:
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, reader.read(length)


def test_the_head_bound_counts_each_request_of_a_keep_alive_connection_anew(hardened_server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", hardened_server.port), timeout=30) as sock:
        reader = sock.makefile("rb")
        # 40 KiB heads, each in two reads: three on one connection (120 KiB in all) pass, as each is under 64 KiB
        for _ in range(3):
            _send_in_pieces(sock, _head(40 * 1024), pieces=2)
            assert _read_response(reader)[0] == 200
        _send_in_pieces(sock, _head(MIB), pieces=16)  # then one over the bound, on the same connection
        status, body = _read_response(reader)
        assert status == 431 and b"65536" in body
        assert reader.read() == b""  # and the server has closed its side


def test_live_socket_messages_are_bounded(hardened_server: ServerProcess, client: httpx.Client) -> None:
    url = f"ws://127.0.0.1:{hardened_server.port}/api/models/tiny-gan/live"
    with connect(url, max_size=4 * MIB) as socket:
        socket.send(json.dumps({"seed": 1, "set": "random", "pad": "x" * (2 * MIB)}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    assert client.get("/api/models/tiny-gan/image.png", params={"seed": 3}).status_code == 200


def test_configured_limits_are_enforced(configured_server: ServerProcess) -> None:
    with configured_server.client() as client:
        body = {"seed": 1, "window": "full", "shifts": {}, "pad": "x" * MAX_BODY_BYTES}
        assert client.post("/api/models/tiny-gan/render", json=body).status_code == 413
        assert client.post("/api/models/tiny-gan/render", json={"seed": 1}).status_code == 200
        upload = client.post("/api/models/tiny-vae/encode", files={"file": ("slice.npy", b"\x00" * (MAX_UPLOAD_BYTES + 1))})
        assert upload.status_code == 413 and f"{MAX_UPLOAD_BYTES} bytes" in upload.json()["detail"]


# pickles -------------------------------------------------------------------------------------------------------


def test_pickles_in_the_models_dir_are_never_unpickled(
    hardening_dirs: tuple[Path, Path], client: httpx.Client, tmp_path: Path
) -> None:
    _, markers_dir = hardening_dirs
    for path in ("/api/models", "/api/models/tiny-gan", "/api/models/tiny-gan/directions/random", "/api/ready"):
        assert client.get(path).status_code == 200
    for set_id in ("legacy", "random.pt"):
        assert client.get(f"/api/models/tiny-gan/directions/{set_id}").status_code in (404, 422)
    assert client.get("/api/models/tiny-gan/image.png", params={"seed": 2, "set": "random", "shift": "0:1"}).status_code == 200
    broken = client.get("/api/ready").json()["broken"]
    assert PICKLED_MODEL in broken and "generator.safetensors" in broken[PICKLED_MODEL]
    assert client.get(f"/api/models/{PICKLED_MODEL}/image.png").status_code == 404
    assert list(markers_dir.iterdir()) == [], "a pickle from the models dir was unpickled"

    # the control: the same traps do fire when something unpickles them
    plant_pickle(tmp_path / "control.pt", tmp_path / "fired.pt", torch_format=True)
    plant_pickle(tmp_path / "control.pkl", tmp_path / "fired.pkl", torch_format=False)
    torch.load(tmp_path / "control.pt", weights_only=False)
    pickle.loads((tmp_path / "control.pkl").read_bytes())
    assert (tmp_path / "fired.pt").exists() and (tmp_path / "fired.pkl").exists()
