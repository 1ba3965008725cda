"""Readiness before warm-up has finished, and a graceful shutdown that still answers the request in flight."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from latentct.rendering.registry import ModelRegistry
from tests.api.conftest import LiveServer, settings_for


def _start_without_waiting(live: LiveServer) -> None:
    live.thread.start()
    deadline = time.monotonic() + 30
    while not live.server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.server.started


def test_not_ready_until_loaded_and_warm(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    original = ModelRegistry.load_all

    def slow_load_all(self: ModelRegistry) -> None:
        release.wait(30)
        original(self)

    monkeypatch.setattr(ModelRegistry, "load_all", slow_load_all)
    live = LiveServer(settings_for(tmp_path, models_dir))
    _start_without_waiting(live)
    try:
        with httpx.Client(base_url=live.base_url, timeout=10) as client:
            ready = client.get("/api/ready")
            assert ready.status_code == 503 and int(ready.headers["retry-after"]) >= 1
            health = client.get("/api/health")
            assert health.status_code == 200 and health.json()["ready"] is False
            image = client.get("/api/models/tiny-gan/image.png")
            assert image.status_code == 503 and "warming up" in image.json()["detail"]
            assert client.get("/api/models").json() == []
            release.set()
            deadline = time.monotonic() + 30
            while client.get("/api/ready").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.get("/api/models/tiny-gan/image.png").status_code == 200
    finally:
        release.set()
        live.stop()


def test_graceful_shutdown_answers_the_request_in_flight(models_dir: Path, tmp_path: Path) -> None:
    live = LiveServer(settings_for(tmp_path, models_dir)).start()
    answers: list[httpx.Response] = []
    try:
        with live.engine_blocked():
            request = threading.Thread(
                target=lambda: answers.append(httpx.get(f"{live.base_url}/api/models/tiny-vae/image.png?seed=5", timeout=30))
            )
            request.start()
            engine = live.app.state.engine
            while engine.in_flight < engine.thread_count + 1:  # the blockers and the request
                time.sleep(0.01)
            live.server.should_exit = True  # shutdown begins while the request waits for the engine
            time.sleep(0.2)
        request.join(30)
    finally:
        live.stop()
    assert len(answers) == 1 and answers[0].status_code == 200
    assert answers[0].content.startswith(b"\x89PNG")


def test_cors_is_closed_unless_configured(models_dir: Path, tmp_path: Path, client: httpx.Client) -> None:
    origin = {"Origin": "http://example.org"}
    closed = client.get("/api/models", headers=origin)
    assert closed.status_code == 200 and "access-control-allow-origin" not in closed.headers
    live = LiveServer(settings_for(tmp_path, models_dir, cors_origins=["http://example.org"])).start()
    try:
        with httpx.Client(base_url=live.base_url, timeout=10) as other:
            opened = other.get("/api/models/tiny-gan/image.png", headers=origin)
            assert opened.headers["access-control-allow-origin"] == "http://example.org"
            assert "etag" in opened.headers["access-control-expose-headers"].lower()
            assert "access-control-allow-origin" not in other.get("/api/models", headers={"Origin": "http://evil.example"}).headers
    finally:
        live.stop()
