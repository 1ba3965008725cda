"""A real uvicorn server on a free port, in a thread of the test process, serving tiny models from a tmp models dir.

Besides tiny-gan (sets random, sefa) and tiny-vae (set random) the models dir holds `tiny-broken`, whose generator
weights are corrupted after saving: it must be reported by name while the others serve.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from latentct.api.app import create_app
from latentct.core.config import Settings
from tests.factories import make_tiny_model, make_tiny_models_dir

BROKEN_MODEL = "tiny-broken"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def corrupt_file(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


def build_models_dir(root: Path) -> Path:
    models_dir = make_tiny_models_dir(root / "models")
    broken = make_tiny_model(models_dir, BROKEN_MODEL, "gan", seed=3)
    corrupt_file(broken / "generator.safetensors")
    return models_dir


class LiveServer:
    """uvicorn serving create_app(settings) on 127.0.0.1:<free port> until `stop`."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", ws_max_size=1 << 20)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    def start(self, timeout_s: float = 60.0) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get("/api/ready").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"server on port {self.port} not ready after {timeout_s} s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @contextmanager
    def engine_blocked(self) -> Iterator[None]:
        """Occupy every inference worker thread with a job that waits until the block is left (to fill queues on
        purpose); the engine then holds `engine.thread_count` jobs."""
        engine = self.app.state.engine
        release, started = threading.Event(), threading.Semaphore(0)

        def block() -> None:
            started.release()
            release.wait(30)

        async def block_all() -> None:
            await asyncio.gather(*[engine.call(block) for _ in range(engine.thread_count)])

        runner = threading.Thread(target=lambda: asyncio.run(block_all()), daemon=True)
        runner.start()
        for _ in range(engine.thread_count):
            assert started.acquire(timeout=10), "the engine threads did not all pick up a blocking job"
        try:
            yield
        finally:
            release.set()
            runner.join(10)


def settings_for(root: Path, models_dir: Path, **overrides: Any) -> Settings:
    # float32: the tests compare pixels with the contract's formula evaluated here (up to float rounding); two engine
    # threads, the default on a CPU with 2+ cores, whatever cores the machine running the tests has
    overrides = {"engine_threads": 2, **overrides}
    return Settings(models_dir=models_dir, data_dir=root / "var", device="cpu", cpu_threads=1, half_precision="off", **overrides)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_models_dir(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="session")
def server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(settings_for(tmp_path_factory.mktemp("server"), models_dir)).start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def tight_server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose engine has one worker thread and holds at most 2 requests (for overload tests)."""
    settings = settings_for(tmp_path_factory.mktemp("tight"), models_dir, queue_size=2, response_cache_mb=0, engine_threads=1)
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture()
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


