"""Nothing lost across processes: a server killed with SIGKILL mid-write, and two servers sharing PostgreSQL.

The servers are the real `latentct serve` over a tiny models folder, configured by LATENTCT_* as deployed.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import make_tiny_model
from tests.labels.label_test_support import ADMIN_TOKEN, make_store
from tests.support.serverproc import ServerProcess, free_port, server_env

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LABEL = {"model": "tiny-gan", "set": "sefa", "direction": 0, "term": "lung_volume", "confidence": 3}
DIRECTIONS = 4  # the tiny model's set has four directions


def label_server(database_url: str, models_dir: Path, log_path: Path) -> ServerProcess:
    """A ready `latentct serve` on a free port over `models_dir`, its labels in `database_url`."""
    env = server_env(models_dir, log_path.parent / "var", free_port(), database_url=database_url,
                     admin_token=ADMIN_TOKEN, log_level="warning")
    return ServerProcess(env, log_path).start_ready()


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    make_tiny_model(tmp_path / "models", "tiny-gan", "gan", seed=1, sets=("sefa",))
    return tmp_path / "models"


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Every server a test starts is stopped afterwards, whatever happened."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


@pytest.mark.slow
def test_sigkill_during_concurrent_writes_loses_no_acknowledged_label(
    tmp_path: Path, sqlite_url: str, models_dir: Path, servers: list[ServerProcess]
) -> None:
    setup_store = make_store(sqlite_url)
    tokens = [setup_store.create_annotator(f"writer {i}")[1] for i in range(8)]
    setup_store.close()
    log_path = tmp_path / "server.log"
    servers.append(label_server(sqlite_url, models_dir, log_path))
    acknowledged: dict[int, str] = {}
    lock = threading.Lock()

    def write(writer: int, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=servers[0].base_url, headers=headers, timeout=30) as client:
            for n in range(10_000):
                text = f"writer {writer} label {n}"
                body = {**LABEL, "direction": n % DIRECTIONS, "text": text}
                try:
                    response = client.post("/api/labels", json=body)
                except httpx.TransportError:
                    return  # the server is gone
                assert response.status_code == 201, response.text
                with lock:
                    acknowledged[response.json()["id"]] = text

    writers = [threading.Thread(target=write, args=(i, token)) for i, token in enumerate(tokens)]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 120 and time.monotonic() < deadline:
        time.sleep(0.01)
    servers[0].kill()  # SIGKILL while the writers are still posting
    for thread in writers:
        thread.join(timeout=60)
    assert len(acknowledged) >= 120

    servers.append(label_server(sqlite_url, models_dir, log_path))
    stored = httpx.get(f"{servers[1].base_url}/api/labels?limit=10000", headers=ADMIN, timeout=30).json()
    stored_texts = {label["id"]: label["text"] for label in stored}
    missing = {
        label_id: text for label_id, text in acknowledged.items() if stored_texts.get(label_id) != text
    }
    assert not missing, f"{len(missing)} acknowledged labels lost"
    assert len(set(stored_texts.values())) == len(stored_texts)  # no event stored twice
    database_path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(database_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


@pytest.mark.slow
def test_writers_retrying_after_a_sigkill_with_their_keys_store_every_label_once(
    tmp_path: Path, sqlite_url: str, models_dir: Path, servers: list[ServerProcess]
) -> None:
    """Issue 18's crash: labels in flight at a SIGKILL are stored but not answered. Each writer retries its unanswered
    label, same key and body, against the restarted server: every label is stored exactly once."""
    setup_store = make_store(sqlite_url)
    tokens = [setup_store.create_annotator(f"writer {i}")[1] for i in range(8)]
    setup_store.close()
    log_path = tmp_path / "server.log"
    servers.append(label_server(sqlite_url, models_dir, log_path))
    answered: list[int] = []
    unanswered: list[tuple[str, str, dict[str, object]]] = []  # (token, key, body)
    lock = threading.Lock()

    def write(writer: int, token: str) -> None:
        with httpx.Client(base_url=servers[0].base_url, timeout=30) as client:
            for n in range(10_000):
                key, body = f"w{writer}-n{n}", {**LABEL, "direction": n % DIRECTIONS, "text": f"writer {writer} label {n}"}
                try:
                    response = client.post(
                        "/api/labels", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    with lock:
                        unanswered.append((token, key, body))
                    return
                assert response.status_code == 201, response.text
                with lock:
                    answered.append(response.json()["id"])

    writers = [threading.Thread(target=write, args=(i, token)) for i, token in enumerate(tokens)]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 60
    while len(answered) < 120 and time.monotonic() < deadline:
        time.sleep(0.01)
    servers[0].kill()
    for thread in writers:
        thread.join(timeout=60)
    assert len(unanswered) == len(tokens)  # every writer had one label in flight

    servers.append(label_server(sqlite_url, models_dir, log_path))
    replayed = 0  # retries of labels the killed server had stored: before Idempotency-Key, each was a duplicate
    with httpx.Client(base_url=servers[1].base_url, timeout=30) as client:
        for token, key, body in unanswered:
            retry = client.post("/api/labels", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
            assert retry.status_code == 201, retry.text
            answered.append(retry.json()["id"])
            replayed += retry.headers.get("Idempotent-Replayed") == "true"
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        texts = [row[0] for row in connection.execute("SELECT text FROM labels")]
        ids = {row[0] for row in connection.execute("SELECT id FROM labels")}
    assert len(texts) == len(set(texts)), "a retried label was stored twice"
    print(f"{replayed} of {len(unanswered)} unanswered labels had been stored by the killed server")
    assert set(answered) <= ids and len(set(answered)) == len(answered)


def _key_rows(database: str) -> list[tuple[str, int]]:
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute("SELECT idempotency_key, label_id FROM label_idempotency_keys").fetchall()


@pytest.mark.slow
def test_a_label_stored_but_never_acknowledged_is_not_stored_twice_by_its_retry(
    tmp_path: Path, sqlite_url: str, models_dir: Path, servers: list[ServerProcess]
) -> None:
    """The crash that duplicated labels: the server commits a label and dies (SIGKILL) before the client reads the
    answer; the client retries with the same Idempotency-Key against the restarted server and gets that label."""
    setup_store = make_store(sqlite_url)
    _, token = setup_store.create_annotator("Dr Retry")
    setup_store.close()
    database = sqlite_url.removeprefix("sqlite:///")
    log_path = tmp_path / "server.log"
    servers.append(label_server(sqlite_url, models_dir, log_path))
    label = {**LABEL, "text": "sent once, never answered"}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "save-3f9a"}
    body = json.dumps(label).encode()
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in {**headers, "Host": "127.0.0.1", "Content-Type": "application/json",
                            "Content-Length": str(len(body))}.items()
    )
    with socket.create_connection(("127.0.0.1", servers[0].port), timeout=30) as sock:
        sock.sendall(f"POST /api/labels HTTP/1.1\r\n{head}\r\n".encode() + body)
        deadline = time.monotonic() + 30
        while not _key_rows(database) and time.monotonic() < deadline:
            time.sleep(0.005)
        servers[0].kill()  # committed, and the answer is never read
    (stored_key,) = _key_rows(database)

    servers.append(label_server(sqlite_url, models_dir, log_path))
    retry = httpx.post(f"{servers[1].base_url}/api/labels", json=label, headers=headers, timeout=30)
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true", retry.text
    assert stored_key == ("save-3f9a", retry.json()["id"])
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT id, text FROM labels").fetchall() == [
            (retry.json()["id"], "sent once, never answered")
        ]
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    fresh = httpx.post(
        f"{servers[1].base_url}/api/labels", json=label, headers={**headers, "Idempotency-Key": "save-4c01"}, timeout=30
    )
    assert fresh.status_code == 201 and "idempotent-replayed" not in fresh.headers  # a new key is a new label


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_sharing_postgresql_see_each_others_labels(
    tmp_path: Path, postgres_url: str, models_dir: Path, servers: list[ServerProcess]
) -> None:
    servers.append(label_server(postgres_url, models_dir, tmp_path / "first.log"))
    servers.append(label_server(postgres_url, models_dir, tmp_path / "second.log"))  # migrates the same schema: no-op
    first, second = (httpx.Client(base_url=server.base_url, timeout=30) for server in servers)
    created = first.post("/api/annotators", json={"name": "Dr Shared"}, headers=ADMIN)
    assert created.status_code == 201
    token = {"Authorization": f"Bearer {created.json()['token']}"}

    written = first.post("/api/labels", json={**LABEL, "text": "via the first server"}, headers=token)
    assert written.status_code == 201
    read_back = second.get("/api/labels", headers=token).json()
    assert [(label["id"], label["text"]) for label in read_back] == [
        (written.json()["id"], "via the first server")
    ]

    assert second.post("/api/labels", json={**LABEL, "term": "heart_size"}, headers=token).status_code == 201
    agreement = first.get("/api/models/tiny-gan/directions/sefa/agreement", headers=token).json()
    assert (
        agreement["directions"][0]["consensus_term"] == "heart_size"
    )  # the latest event, written via the second
    first.close()
    second.close()
