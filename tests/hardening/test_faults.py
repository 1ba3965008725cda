"""Faults a deployment meets: corrupt model files, a label database that goes away and comes back, clients that hang
up mid-stream. The server keeps serving everything else and says what is wrong."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.hardening.conftest import GARBAGE_SET, PICKLED_MODEL, TRUNCATED_MODEL
from tests.support.serverproc import ADMIN_TOKEN, ServerProcess, bearer, free_port, new_annotator, running, server_env

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STREAM = "/api/models/tiny-gan/traversal/stream"


def _eventually(probe: Any, what: str, timeout_s: float = 30.0) -> None:
    """Poll `probe` until it is true (a condition, not a timing: the limit only keeps a broken run from hanging)."""
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


# (a) corrupt model files ----------------------------------------------------------------------------------------


def test_corrupt_models_are_named_and_the_others_serve(hardened_server: ServerProcess) -> None:
    with hardened_server.client() as client:
        ready = client.get("/api/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["models"] == ["tiny-gan", "tiny-vae"]
        assert set(body["broken"]) == {TRUNCATED_MODEL, PICKLED_MODEL}
        assert "generator.safetensors" in body["broken"][TRUNCATED_MODEL]
        assert [m["id"] for m in client.get("/api/models").json()] == ["tiny-gan", "tiny-vae"]
        refused = client.get(f"/api/models/{TRUNCATED_MODEL}/image.png")
        assert refused.status_code == 404 and "failed to load" in refused.json()["detail"]
        assert client.get("/api/models/tiny-gan/image.png", params={"seed": 11}).status_code == 200
        assert client.get("/api/models/tiny-vae/traversal.png", params={"set": "random", "direction": 1}).status_code == 200
        garbage = client.get(f"/api/models/tiny-vae/directions/{GARBAGE_SET}")
        assert garbage.status_code == 404 and "failed to load" in garbage.json()["detail"]
        assert [s["id"] for s in client.get("/api/models/tiny-vae").json()["direction_sets"]] == ["random"]
    log = hardened_server.log()
    assert f"model folder {TRUNCATED_MODEL} not served" in log
    assert f"direction set {GARBAGE_SET} not served" in log
    assert "Traceback" not in log


# (b) the label database goes away and comes back ----------------------------------------------------------------


def _admin_sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5) as connection:
        for statement in statements:
            connection.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def throwaway_database() -> Iterator[str]:
    """A PostgreSQL database of its own (created here, dropped afterwards); skips when the server does not answer."""
    try:
        import psycopg

        _admin_sql("SELECT 1")
    except Exception as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 does not answer: {str(exc).strip()[:200]}")
    name = f"latentct_hardening_{uuid.uuid4().hex[:10]}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with contextlib.suppress(psycopg.Error):
            _admin_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _outage(name: str) -> None:
    """The database stops accepting connections and every open one is cut, as when its server goes down."""
    _admin_sql(
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()",
    )


def _recovery(name: str) -> None:
    _admin_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


@pytest.fixture(scope="module")
def postgres_server(
    hardening_dirs: tuple[Path, Path], throwaway_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("pg-server")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{throwaway_database}"
    env = server_env(hardening_dirs[0], root / "var", free_port(), admin_token=ADMIN_TOKEN, database_url=url)
    with running(env, root / "server.log") as server:
        yield server


def _label(direction: int) -> dict[str, Any]:
    return {"model": "tiny-gan", "set": "random", "direction": direction, "term": "rotation", "confidence": 4}


@pytest.mark.postgres
def test_label_database_outage_is_503_while_images_keep_serving(
    postgres_server: ServerProcess, throwaway_database: str
) -> None:
    with postgres_server.client() as client:
        token = new_annotator(client, "Dr Outage")
        before = client.post("/api/labels", json=_label(0), headers=bearer(token))
        assert before.status_code == 201, before.text
        _outage(throwaway_database)
        try:
            for method, path, body in [
                ("POST", "/api/labels", _label(1)),
                ("GET", "/api/labels", None),
                ("GET", "/api/models/tiny-gan/directions/random/agreement", None),
            ]:
                response = client.request(method, path, json=body, headers=bearer(token))
                assert response.status_code == 503, (path, response.status_code, response.text)
                assert int(response.headers["retry-after"]) >= 1
                assert "database" in response.json()["detail"]
            assert client.get("/api/models/tiny-gan/image.png", params={"seed": 21}).status_code == 200
            strip = client.get("/api/models/tiny-vae/traversal.png", params={"set": "random", "direction": 0, "seed": 4})
            assert strip.status_code == 200
            info = client.get("/api/models/tiny-gan/directions/random")
            assert info.status_code == 200 and info.json()["consensus_available"] is False
            assert client.get("/api/health").status_code == 200
            assert client.get("/api/ready").status_code == 200  # images are still served: the replica stays in rotation
        finally:
            _recovery(throwaway_database)
        after = client.post("/api/labels", json=_label(2), headers=bearer(token))
        assert after.status_code == 201, after.text
        stored = client.get("/api/labels", headers=bearer(ADMIN_TOKEN)).json()
        assert {label["id"] for label in stored} >= {before.json()["id"], after.json()["id"]}
        assert client.get("/api/models/tiny-gan/directions/random").json()["consensus_available"] is True


@pytest.mark.postgres
def test_readiness_and_log_name_a_label_database_outage(postgres_server: ServerProcess, throwaway_database: str) -> None:
    logged_before = len(postgres_server.log())
    with postgres_server.client() as client:
        _outage(throwaway_database)
        try:
            assert client.get("/api/labels", headers=bearer(ADMIN_TOKEN)).status_code == 503
            ready_body = json.dumps(client.get("/api/ready").json()).lower()
        finally:
            _recovery(throwaway_database)
    assert "database" in ready_body or "labels" in ready_body
    during = postgres_server.log()[logged_before:].splitlines()
    assert any("database" in line.lower() for line in during if '"GET ' not in line and '"POST ' not in line)


@pytest.mark.postgres
def test_a_database_recreated_empty_is_migrated_again_or_refused_cleanly(
    postgres_server: ServerProcess, throwaway_database: str
) -> None:  # runs last of the database tests: it destroys what they stored
    with postgres_server.client() as client:
        _admin_sql(f'DROP DATABASE "{throwaway_database}" WITH (FORCE)')
        try:
            gone = client.post("/api/labels", json=_label(3), headers=bearer(ADMIN_TOKEN))
            assert gone.status_code == 503 and "database" in gone.json()["detail"]
        finally:
            _admin_sql(f'CREATE DATABASE "{throwaway_database}"')
        back = client.post("/api/labels", json=_label(3), headers=bearer(ADMIN_TOKEN))
        assert back.status_code in (201, 503), back.text


# (c) clients that hang up --------------------------------------------------------------------------------------


def _idle(client: httpx.Client) -> bool:
    return client.get("/api/health").json()["engine"]["in_flight"] == 0


def test_clients_hanging_up_mid_stream_leave_nothing_behind(hardened_server: ServerProcess) -> None:
    with hardened_server.client() as client:
        assert client.get(STREAM, params={"set": "random", "direction": 0, "steps": 2, "fps": 30}).status_code == 200
        _eventually(lambda: _idle(client), "engine idle")
        fds, threads = hardened_server.open_fds(), hardened_server.threads()
        long_stream = {"set": "random", "direction": 1, "steps": 64, "fps": 30, "loops": 10}  # 42 s if watched to the end
        for _ in range(12):
            viewer = httpx.Client(base_url=hardened_server.base_url, timeout=30)
            with viewer, viewer.stream("GET", STREAM, params=long_stream) as response:
                assert response.status_code == 200
                received = b""
                for chunk in response.iter_raw():
                    received += chunk
                    if received.count(b"--frame") >= 3:
                        break  # hang up after two frames
        with connect(f"ws://127.0.0.1:{hardened_server.port}/api/models/tiny-gan/live") as socket:
            for seed in range(50):
                socket.send(json.dumps({"seed": seed, "set": "random", "shifts": {"0": 1.5}, "scale": 8}))
        # the server notices each hang-up: its sockets and threads return to what they were, the engine is idle
        _eventually(lambda: hardened_server.open_fds() <= fds, f"open descriptors back to {fds}")
        _eventually(lambda: _idle(client), "engine idle")
        assert hardened_server.threads() <= threads + 1  # the thread pool may have grown by one worker, no more
        full = client.get(STREAM, params={"set": "random", "direction": 0, "steps": 3, "fps": 30})
        assert full.status_code == 200 and full.content.endswith(b"--frame--\r\n")
        assert client.get("/api/models/tiny-gan/image.png", params={"seed": 99}).status_code == 200
    assert "Traceback" not in hardened_server.log()
