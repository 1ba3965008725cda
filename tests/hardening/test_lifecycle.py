"""Liveness and readiness of a real `latentct serve` process, and a graceful stop on SIGTERM (what `docker stop` sends)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.serverproc import ServerProcess, free_port, latentct_command, server_env

# `latentct serve` whose model loading waits until a gate file exists: readiness can be watched before warm-up ends
GATED_SERVE = """
import pathlib, sys, time
from latentct.rendering import registry
gate = pathlib.Path(sys.argv.pop(1))
load_all = registry.ModelRegistry.load_all
def gated_load_all(self):
    while not gate.exists():
        time.sleep(0.02)
    load_all(self)
registry.ModelRegistry.load_all = gated_load_all
from latentct.cli import main
main()
"""
SLOW_STREAM = {"set": "random", "direction": 0, "steps": 3, "fps": 2, "loops": 2}  # 8 frames at 2 fps: about 4 s
FRAMES = 8


def healthcheck(port: int) -> int:
    env = {"LATENTCT_PORT": str(port), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "latentct.healthcheck"], env=env, capture_output=True, timeout=60).returncode


def test_ready_only_after_warm_up_while_alive_all_along(hardening_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    env = server_env(hardening_dirs[0], tmp_path / "var", free_port())
    server = ServerProcess(env, tmp_path / "server.log", [sys.executable, "-c", GATED_SERVE, str(gate), "serve"]).start()
    try:
        server.wait_listening()
        with server.client() as client:
            ready = client.get("/api/ready")
            assert ready.status_code == 503 and int(ready.headers["retry-after"]) >= 1
            health = client.get("/api/health")
            assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["ready"] is False
            assert healthcheck(server.port) == 0  # the container is alive (not restarted) while it warms up
            image = client.get("/api/models/tiny-gan/image.png")
            assert image.status_code == 503 and int(image.headers["retry-after"]) >= 1
            assert client.get("/api/models").json() == []
            gate.touch()
            server.wait_ready()
            assert client.get("/api/ready").json()["models"] == ["tiny-gan", "tiny-vae"]
            assert client.get("/api/models/tiny-gan/image.png").status_code == 200
    finally:
        gate.touch()
        server.stop()


@dataclass(frozen=True)
class SigtermRun:
    stream_body: bytes
    strip_statuses: list[int]
    refusals: list[str]
    exit_status: int
    log: str


def _hammer(base_url: str, stop: threading.Event, answers: list[int], refused: list[str]) -> None:
    """64-step strips, one after another, until the server is gone; records every status and every refusal."""
    seed = 0
    with httpx.Client(base_url=base_url, timeout=60) as client:
        while not stop.is_set():
            seed += 1
            try:
                response = client.get("/api/models/tiny-gan/traversal.png",
                                      params={"set": "sefa", "direction": 2, "steps": 64, "seed": seed})
            except httpx.TransportError as exc:  # the listener is closed: the request never reached the app
                refused.append(type(exc).__name__)
                if len(refused) > 3:
                    return
                time.sleep(0.05)
                continue
            answers.append(response.status_code)


@pytest.fixture(scope="module")
def sigterm_run(hardening_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> SigtermRun:
    """A server gets SIGTERM while it streams a traversal (8 frames at 2 fps) and renders 64-step strips."""
    root = tmp_path_factory.mktemp("sigterm")
    env = server_env(hardening_dirs[0], root / "var", free_port())
    server = ServerProcess(env, root / "server.log", [*latentct_command(), "serve"]).start()
    stop, answers, refused = threading.Event(), [], []
    try:
        server.wait_ready()
        hammer = threading.Thread(target=_hammer, args=(server.base_url, stop, answers, refused), daemon=True)
        client = httpx.Client(base_url=server.base_url, timeout=60)
        with client, client.stream("GET", "/api/models/tiny-gan/traversal/stream", params=SLOW_STREAM) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            body = next(chunks)
            hammer.start()
            while not answers:
                time.sleep(0.01)
            server.signal(signal.SIGTERM)  # mid-stream, with strips being rendered
            for chunk in chunks:
                body += chunk
        status = server.wait(60)
        stop.set()
        hammer.join(60)
    finally:
        stop.set()
        server.stop()
    print(f"strips answered: {len(answers)}, refused after the listener closed: {refused}")
    return SigtermRun(body, answers, refused, status, server.log())


def test_sigterm_finishes_requests_in_flight_then_exits(sigterm_run: SigtermRun) -> None:
    body = sigterm_run.stream_body
    assert body.endswith(b"\r\n--frame--\r\n") and body.count(b"Content-Type: image/png") == FRAMES
    assert sigterm_run.strip_statuses and set(sigterm_run.strip_statuses) == {200}  # each request that got in, in full
    assert sigterm_run.exit_status == 0, sigterm_run.exit_status
    log = sigterm_run.log
    assert "Application shutdown complete" in log and "Finished server process" in log and "Traceback" not in log


def test_sigterm_exit_status_is_zero(sigterm_run: SigtermRun) -> None:
    assert sigterm_run.exit_status == 0
