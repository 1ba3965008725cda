"""`latentct serve` as a user runs it: a subprocess on a free port, ready, serving, then a graceful stop on SIGINT."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from latentct.rendering.cpu_threads import resolve_engine_threads, resolve_torch_threads
from tests.support.serverproc import ServerProcess, clean_environ, free_port


def _serve(models_dir: Path, tmp_path: Path, *options: str, new_session: bool = False, **settings: str) -> ServerProcess:
    """`python -m latentct.cli serve` on a free port (the tests' environment: no LATENTCT_* of the caller)."""
    port = free_port()
    env = clean_environ() | {"LATENTCT_DATA_DIR": str(tmp_path / "var"), "LATENTCT_PORT": str(port)}
    env |= {f"LATENTCT_{name.upper()}": value for name, value in settings.items()}
    command = [sys.executable, "-m", "latentct.cli", "serve", "--models-dir", str(models_dir), "--port", str(port),
               "--device", "cpu", *options]
    return ServerProcess(env, tmp_path / "serve.log", command, new_session=new_session).start()


@pytest.mark.slow
def test_serve_command_starts_serves_and_stops(models_dir: Path, tmp_path: Path) -> None:
    server = _serve(models_dir, tmp_path, "--cpu-threads", "1", batch_wait_ms="1")
    try:
        server.wait_ready(90)
        with server.client() as client:
            assert [m["id"] for m in client.get("/api/models").json()] == ["tiny-gan", "tiny-vae"]
            assert client.get("/api/models/tiny-vae/image.png").status_code == 200
            engine = client.get("/api/health").json()["engine"]
            assert engine["threads"] == resolve_engine_threads(0) and engine["torch_threads"] == 1  # auto; --cpu-threads 1
        server.signal(signal.SIGINT)
        returncode = server.wait(60)
    finally:
        server.stop()
    output = server.log()
    assert returncode == 0, output
    assert "serving" in output and "Application shutdown complete" in output
    assert "GET /api/" not in output, "access lines are off by default (a slider drag is hundreds of requests)"


def _worker_processes(pid: int) -> list[int]:
    """The server processes uvicorn spawned (not multiprocessing's resource tracker)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(c) for c in path.read_text().split()] if path.exists() else []
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _ready_ten_times(client: httpx.Client, server: ServerProcess, timeout_s: float = 120) -> bool:
    """Ten ready answers in a row (new connections): both workers are warm."""
    deadline, answers = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline and server.returncode is None and answers < 10:
        with contextlib.suppress(httpx.TransportError):
            answers = answers + 1 if client.get("/api/ready", headers={"Connection": "close"}).status_code == 200 else 0
        time.sleep(0.1)
    return answers == 10


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads child processes from /proc (Linux)")
def test_two_workers_resolve_their_threads_serve_and_stop_on_sigterm(models_dir: Path, tmp_path: Path) -> None:
    """What deploy/gpu.yml runs (several workers), on the CPU: no --cpu-threads, so each worker's lifespan resolves."""
    server = _serve(models_dir, tmp_path, "--access-log", new_session=True, workers="2")  # a failed test kills workers too
    workers: list[int] = []
    try:
        with server.client(timeout=5) as client:
            assert _ready_ten_times(client, server), "the workers did not become ready"
            workers = _worker_processes(server.pid)
            assert len(workers) == 2, workers
            assert client.get("/api/models/tiny-gan/image.png", params={"seed": 4}).status_code == 200
            engine = client.get("/api/health").json()["engine"]
            threads = resolve_engine_threads(0, workers=2)
            assert engine["threads"] == threads and engine["torch_threads"] == resolve_torch_threads(0, 2, threads)
        server.signal(signal.SIGTERM)  # docker stop
        returncode = server.wait(60)
    finally:
        if server.returncode is None or any(Path(f"/proc/{pid}").exists() for pid in workers):
            server.kill_group()
    output = server.log()
    assert returncode == 0, output
    assert '"GET /api/models/tiny-gan/image.png?seed=4 HTTP/1.1" 200' in output, "--access-log logs each request"
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived the server"


def test_serve_refuses_a_missing_models_dir(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "latentct.cli", "serve", "--models-dir", str(tmp_path / "missing")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: models dir") and "Traceback" not in result.stderr
