"""The image's entrypoint outside the container: `latentct serve` (the Dockerfile's CMD) with exactly the Dockerfile's
ENV, its paths moved to temporary folders (models: tiny test models; data: empty) and its port to a free one."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.deployfiles import REPO, Instruction, dockerfile_env, read_dockerfile
from tests.factories import make_tiny_models_dir
from tests.support.serverproc import ServerProcess, clean_environ, free_port, running


def image_environment(models_dir: Path, data_dir: Path, port: int) -> dict[str, str]:
    """The Dockerfile's ENV over a minimal process environment, with this machine's paths and a free port."""
    env = dockerfile_env(read_dockerfile())
    image_path = env.pop("PATH", "").split(":")
    assert image_path[:2] == ["/opt/latentct-app/bin", "/opt/latentct/bin"], "the image's PATH starts at the package and its venv"
    moved = {
        "LATENTCT_MODELS_DIR": str(models_dir),
        "LATENTCT_DATA_DIR": str(data_dir),
        "LATENTCT_FRONTEND_DIR": str(REPO / "frontend"),  # what `COPY frontend ./frontend` puts in the image
        "LATENTCT_PORT": str(port),
    }
    assert set(moved) <= set(env), "the Dockerfile no longer sets one of the paths this test moves"
    env.update(moved)
    base = clean_environ()
    keep = {k: base[k] for k in ("HOME", "LANG", "TMPDIR") if k in base}
    # the image's PATH finds `latentct` and `python` of the installed package: here, those of this environment
    keep["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    return {**keep, **env}


def image_command() -> list[str]:
    cmd = next(i for i in read_dockerfile() if i.keyword == "CMD")
    command = Instruction.exec_form(cmd)
    assert command is not None
    return command


@pytest.fixture(scope="session")
def image_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("image")
    models_dir = make_tiny_models_dir(root / "models")
    env = image_environment(models_dir, root / "data", free_port())
    with running(env, root / "server.log", image_command()) as server:
        yield server
