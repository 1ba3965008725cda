"""One shared `latentct serve` subprocess for the hardening tests, over a models dir with traps in it.

The models dir holds the tiny GAN and VAE of tests/factories plus what a careless deployment could hold:
- `tiny-truncated`: a model whose generator.safetensors is cut in half (a corrupt weights file);
- `tiny-vae/directions/garbage.*`: a direction set whose safetensors is not a safetensors file;
- `pickled-only`: a model folder whose generator exists only as a pickled `generator.pt`;
- pickles (`.pt` from torch.save, `.pkl` from pickle) beside valid safetensors, each of which would create a marker
  file in `markers/` if anything ever unpickled it.
Beside the models dir (never to be reached through the API): a valid model folder `outside-model` and `secret.txt`.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.factories import make_tiny_model, make_tiny_models_dir
from tests.support.serverproc import ADMIN_TOKEN, ServerProcess, free_port, running, server_env

TRUNCATED_MODEL = "tiny-truncated"
QUEUE_SIZE = 2
ALLOWED_ORIGIN = "http://x"
MAX_BODY_BYTES = 4096
MAX_UPLOAD_BYTES = 64 * 1024
OUTSIDE_MODEL = "outside-model"
SECRET = "s3cret-beside-the-models-dir-7f3a"
PICKLED_MODEL = "pickled-only"
GARBAGE_SET = "garbage"


class TouchOnUnpickle:
    """Unpickling this object opens (creates) the marker file: proof that something ran pickled code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def plant_pickle(path: Path, marker: Path, torch_format: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if torch_format:
        torch.save(TouchOnUnpickle(marker), path)  # a genuine torch checkpoint (zip with data.pkl)
    else:
        path.write_bytes(pickle.dumps(TouchOnUnpickle(marker)))


def pickle_traps(models_dir: Path, markers_dir: Path) -> list[Path]:
    """Plant the pickles; returns their paths."""
    traps = [
        (models_dir / "tiny-gan" / "generator.pt", True),
        (models_dir / "tiny-gan" / "model.pkl", False),
        (models_dir / "tiny-gan" / "directions" / "random.pt", True),
        (models_dir / "tiny-gan" / "directions" / "legacy.pkl", False),
        (models_dir / "checkpoint.pt", True),
        (models_dir / PICKLED_MODEL / "generator.pt", True),
    ]
    for i, (path, torch_format) in enumerate(traps):
        plant_pickle(path, markers_dir / f"unpickled-{i}-{path.name}", torch_format)
    return [path for path, _ in traps]


def build_hardening_models_dir(root: Path) -> tuple[Path, Path]:
    """(models_dir, markers_dir) as the module docstring describes."""
    models_dir = make_tiny_models_dir(root / "models")
    markers_dir = root / "markers"
    markers_dir.mkdir()
    truncated = make_tiny_model(models_dir, TRUNCATED_MODEL, "gan", seed=5) / "generator.safetensors"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    vae_sets = models_dir / "tiny-vae" / "directions"
    shutil.copy(vae_sets / "random.json", vae_sets / f"{GARBAGE_SET}.json")
    (vae_sets / f"{GARBAGE_SET}.safetensors").write_bytes(b"\x00\x01not a safetensors file" * 64)
    pickled = models_dir / PICKLED_MODEL
    shutil.copytree(models_dir / "tiny-gan", pickled)
    manifest = json.loads((pickled / "model.json").read_text())
    manifest["id"] = PICKLED_MODEL
    (pickled / "model.json").write_text(json.dumps(manifest))
    (pickled / "generator.safetensors").unlink()
    pickle_traps(models_dir, markers_dir)
    make_tiny_model(root, OUTSIDE_MODEL, "gan", seed=9)
    (root / "secret.txt").write_text(SECRET)
    return models_dir, markers_dir


@pytest.fixture(scope="session")
def hardening_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_hardening_models_dir(tmp_path_factory.mktemp("hardening"))


@pytest.fixture(scope="session")
def hardened_server(hardening_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The shared server: default limits, SQLite labels, LATENTCT_ADMIN_TOKEN set."""
    models_dir, _ = hardening_dirs
    root = tmp_path_factory.mktemp("hardened-server")
    env = server_env(models_dir, root / "var", free_port(), admin_token=ADMIN_TOKEN)
    with running(env, root / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def configured_server(hardening_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Limits set through LATENTCT_* as a deployer sets them: an engine holding 2 jobs with one image per forward pass
    and no response cache (so it overflows), CORS opened for one origin, small body and upload limits."""
    root = tmp_path_factory.mktemp("configured-server")
    env = server_env(
        hardening_dirs[0], root / "var", free_port(),
        queue_size=QUEUE_SIZE, max_batch=1, batch_wait_ms=0, response_cache_mb=0,
        cors_origins=json.dumps([ALLOWED_ORIGIN]), max_body_bytes=MAX_BODY_BYTES, max_upload_bytes=MAX_UPLOAD_BYTES,
    )
    with running(env, root / "server.log") as server:
        yield server
