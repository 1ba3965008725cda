"""What public answers say about the server: the model id and the kind of problem, never its paths or internals.

/api/ready, /api/health, every 404 and every upload error of the shared hardening server (a truncated model, a model
folder holding only a pickle, a garbage direction set: tests/hardening/conftest.py) must not contain the models dir,
the temporary folder around it, a heap address ("<... object at 0x7f...>") or a traceback. The full detail, paths
included, goes to the server log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from latentct.rendering.errors import public_detail
from tests.api.test_encode import dicom_bytes, npy_bytes, png_bytes, thorax_hu
from tests.hardening.conftest import GARBAGE_SET, PICKLED_MODEL, TRUNCATED_MODEL
from tests.hardening.dicom_bombs import BOMBS
from tests.support.serverproc import ServerProcess

INTERNALS = re.compile(r"0x[0-9a-fA-F]{6,}|object at|Traceback|File \"")
NOT_FOUND_PATHS = [
    f"/api/models/{TRUNCATED_MODEL}",
    f"/api/models/{TRUNCATED_MODEL}/image.png?seed=1",
    f"/api/models/{TRUNCATED_MODEL}/directions/random",
    f"/api/models/{PICKLED_MODEL}/traversal.png?set=random&direction=0",
    f"/api/models/tiny-vae/directions/{GARBAGE_SET}",
    f"/api/models/tiny-vae/image.png?seed=1&set={GARBAGE_SET}&shift=0:1",
    "/api/models/nope",
    "/api/models/tiny-gan/directions/nope",
    "/api/nope",
]
UPLOADS = [
    ("not-a-png.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64),  # Pillow's complaint names "<_io.BytesIO object at 0x...>"
    ("truncated.png", png_bytes(np.zeros((64, 64), np.uint8))[:60]),
    ("truncated.npy", npy_bytes(np.zeros((64, 64), np.float32))[:200]),
    ("truncated.dcm", dicom_bytes(thorax_hu())[:400]),
    ("corrupt.dcm", b"\0" * 128 + b"DICM" + b"\x07\x00garbage" * 50),
    ("notes.txt", b"hello, this is not an image"),
    *[(f"{name}.dcm", build()) for name, (build, _) in sorted(BOMBS.items()) if "256mib" not in name],
]


@pytest.fixture(scope="module")
def client(hardened_server: ServerProcess) -> Iterator[httpx.Client]:
    with hardened_server.client() as http:
        yield http


@pytest.fixture(scope="module")
def server_paths(hardening_dirs: tuple[Path, Path]) -> list[str]:
    """The models dir, the folder it was made in and the pytest temporary folder, as given and resolved."""
    models_dir, _ = hardening_dirs
    paths = [models_dir, models_dir.parent, models_dir.parent.parent]
    return sorted({str(p) for path in paths for p in (path, path.resolve())})


def assert_discreet(text: str, server_paths: list[str], where: str) -> None:
    for path in server_paths:
        assert path not in text, f"{where} shows the server path {path}: {text[:500]}"
    assert not INTERNALS.search(text), f"{where} shows internals: {text[:500]}"


def test_health_and_ready_name_the_broken_models_without_paths(client: httpx.Client, server_paths: list[str]) -> None:
    for path in ("/api/ready", "/api/health"):
        response = client.get(path)
        assert response.status_code == 200
        assert_discreet(response.text, server_paths, path)
        broken = response.json()["broken"]
        assert set(broken) == {TRUNCATED_MODEL, PICKLED_MODEL}
        assert "generator.safetensors" in broken[TRUNCATED_MODEL] and "checksum" in broken[TRUNCATED_MODEL]
        assert "generator.safetensors is missing" in broken[PICKLED_MODEL]


@pytest.mark.parametrize("path", NOT_FOUND_PATHS)
def test_404_bodies_carry_no_paths(client: httpx.Client, server_paths: list[str], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert_discreet(response.text, server_paths, path)


def test_404_bodies_still_say_what_is_wrong(client: httpx.Client) -> None:
    garbage = client.get(f"/api/models/tiny-vae/directions/{GARBAGE_SET}").json()["detail"]
    assert "failed to load" in garbage and f"{GARBAGE_SET}.safetensors" in garbage
    truncated = client.get(f"/api/models/{TRUNCATED_MODEL}").json()["detail"]
    assert TRUNCATED_MODEL in truncated and "failed to load" in truncated and "generator.safetensors" in truncated


@pytest.mark.parametrize(("name", "data"), UPLOADS, ids=[name for name, _ in UPLOADS])
def test_upload_errors_carry_no_reprs_or_paths(client: httpx.Client, server_paths: list[str], name: str, data: bytes) -> None:
    response = client.post("/api/models/tiny-vae/encode", files={"file": (name, data, "application/octet-stream")})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert_discreet(response.text, server_paths, f"upload {name}")


def test_the_server_log_keeps_the_full_detail(hardened_server: ServerProcess, hardening_dirs: tuple[Path, Path]) -> None:
    models_dir, _ = hardening_dirs
    log = hardened_server.log()
    assert f"{models_dir / TRUNCATED_MODEL / 'generator.safetensors'}: checksum mismatch" in log


def test_public_detail_drops_paths_and_heap_addresses(tmp_path: Path) -> None:
    model_dir = tmp_path / "models" / "m"
    assert public_detail(f"{model_dir}/generator.safetensors: truncated", model_dir) == "generator.safetensors: truncated"
    assert public_detail(f"{model_dir}: model folder not found", model_dir, model_dir.parent) == "m: model folder not found"
    assert public_detail("cannot read /srv/app/models/x/encoder.safetensors") == "cannot read encoder.safetensors"
    assert public_detail("cannot identify image file <_io.BytesIO object at 0x7f3a2c1d9e40>") == (
        "cannot identify image file <_io.BytesIO>"
    )
    assert public_detail("values 1/2 and/or tiny-gan/x\nTraceback (most recent call last):") == "values 1/2 and/or tiny-gan/x"
