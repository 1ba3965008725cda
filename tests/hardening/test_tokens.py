"""A weak LATENTCT_ADMIN_TOKEN is refused: by `latentct serve` (one `error:` line, no traceback, nothing stored), by
the app factory and the label store; generated tokens pass; a weak bootstrap token stored before no longer works."""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from latentct.api.app import create_app
from latentct.core.config import Settings
from latentct.labels.db import create_label_engine
from latentct.labels.store import LabelStore, open_label_store
from latentct.labels.tokens import (
    MIN_ADMIN_TOKEN_BITS,
    WeakAdminTokenError,
    admin_token_problem,
    estimate_token_bits,
    hash_token,
    new_token,
)
from latentct.labels.vocabulary import load_vocabulary
from tests.factories import make_tiny_model
from tests.support.serverproc import ServerProcess, bearer, free_port, latentct_command, server_env

WEAK = "admintok"
MADE_UP = [
    WEAK,
    "hardening-admin-token-0123456789",  # the old test token: words and a run of digits
    "test-admin-token-0123456789abcdef",
    "a" * 200,
    "ab" * 100,
    "abcdefghijklmnopqrstuvwxyz" * 4,
    "Password123!",
]


# the estimate ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", MADE_UP)
def test_made_up_tokens_are_estimated_weak(token: str) -> None:
    assert estimate_token_bits(token) < MIN_ADMIN_TOKEN_BITS
    problem = admin_token_problem(token)
    assert problem is not None and problem.startswith("LATENTCT_ADMIN_TOKEN is too weak: about ")


def test_the_estimate_is_length_times_log2_of_the_classes_used_without_repeats_and_runs() -> None:
    assert estimate_token_bits(WEAK) == pytest.approx(8 * 4.7004, abs=0.01)  # a-z only: 26
    assert estimate_token_bits("aZ3") == pytest.approx(3 * 5.9542, abs=0.01)  # 26 + 26 + 10
    assert estimate_token_bits("aZ3-") == pytest.approx(4 * 6.5546, abs=0.01)  # + 32 other printable
    assert estimate_token_bits("axax") == estimate_token_bits("axa")  # a repeated pair adds nothing
    assert estimate_token_bits("mnop") == estimate_token_bits("m")  # nor does a run


def test_generated_tokens_pass_by_a_wide_margin() -> None:
    """What `latentct annotators add` prints (token_urlsafe(32)) and the documented alternatives."""
    for make in (new_token, lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(32)):
        lowest = min(estimate_token_bits(make()) for _ in range(3000))
        assert lowest >= 150, lowest  # 22 bits above the bar; token_hex(32) scored 160 at worst in 10**6 draws
    assert all(admin_token_problem(new_token()) is None for _ in range(1000))


@pytest.mark.parametrize("token", ["tab\tinside" + "x" * 40, " " + new_token(), "caf\u00e9" + new_token()])
def test_tokens_that_cannot_travel_in_a_header_are_refused(token: str) -> None:
    problem = admin_token_problem(token)
    assert problem is not None and "printable ASCII without spaces" in problem


def test_the_message_is_one_line_naming_the_setting_the_bits_and_how_to_make_one() -> None:
    problem = admin_token_problem(WEAK)
    assert problem is not None and "\n" not in problem
    assert "LATENTCT_ADMIN_TOKEN" in problem and "about 38 bits" in problem and "at least 128" in problem
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in problem


def test_no_admin_token_is_allowed() -> None:
    assert admin_token_problem(None) is None and admin_token_problem("") is None


# the store and the app ------------------------------------------------------------------------------------------


def test_the_store_refuses_a_weak_admin_token_before_storing_its_hash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'labels.sqlite3'}"
    engine = create_label_engine(url)
    with pytest.raises(WeakAdminTokenError, match="LATENTCT_ADMIN_TOKEN is too weak"):
        LabelStore(engine, load_vocabulary(), admin_token=WEAK)
    with pytest.raises(WeakAdminTokenError):
        open_label_store(Settings(database_url=url, admin_token=WEAK))  # what the app's lifespan calls
    engine.dispose()
    assert not (tmp_path / "labels.sqlite3").exists() or _stored_hashes(tmp_path / "labels.sqlite3") == []


def test_the_app_factory_refuses_a_weak_admin_token(tmp_path: Path) -> None:
    with pytest.raises(WeakAdminTokenError, match="about 38 bits"):
        create_app(Settings(admin_token=WEAK, data_dir=tmp_path))


def test_a_weak_bootstrap_token_stored_before_is_no_longer_accepted(tmp_path: Path) -> None:
    """A database from before this check holds sha256(weak) for the bootstrap admin; with LATENTCT_ADMIN_TOKEN unset
    that row would still let the weak token in, so authentication refuses weak tokens outright."""
    url = f"sqlite:///{tmp_path / 'labels.sqlite3'}"
    store = LabelStore(create_label_engine(url), load_vocabulary())
    store.initialize()
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO annotators (name, role, token_sha256, created_at, bootstrap_slot) "
            "VALUES ('admin (LATENTCT_ADMIN_TOKEN)', 'admin', ?, CURRENT_TIMESTAMP, 1)",
            (hash_token(WEAK),),
        )
    assert store.authenticate(WEAK) is None
    _, token = store.create_annotator("Dr Strong")
    assert store.authenticate(token) is not None
    store.close()


def _stored_hashes(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "annotators" not in tables:
            return []
        return [row[0] for row in connection.execute("SELECT token_sha256 FROM annotators")]


# real server processes ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("token-models")
    make_tiny_model(root, "tiny-gan", "gan", seed=1, sets=("random",))
    return root


def test_serve_with_a_weak_admin_token_exits_with_one_error_line(models_dir: Path, tmp_path: Path) -> None:
    env = server_env(models_dir, tmp_path / "var", free_port(), admin_token=WEAK)
    done = subprocess.run([*latentct_command(), "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr  # exactly one line
    assert done.stderr.startswith("error: LATENTCT_ADMIN_TOKEN is too weak: about 38 bits estimated"), done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "secrets.token_urlsafe(32)" in done.stderr
    assert not (tmp_path / "var" / "labels.sqlite3").exists()  # refused before the database was touched


def test_the_app_factory_under_uvicorn_refuses_a_weak_admin_token(models_dir: Path, tmp_path: Path) -> None:
    """Deployments that run the factory themselves (`uvicorn --factory`) do not start either."""
    env = server_env(models_dir, tmp_path / "var", free_port(), admin_token=WEAK)
    command = [sys.executable, "-m", "uvicorn", "--factory", "latentct.api.app:create_app", "--port", env["LATENTCT_PORT"]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "LATENTCT_ADMIN_TOKEN is too weak" in done.stderr, done.stderr
    assert not (tmp_path / "var" / "labels.sqlite3").exists()


def test_serve_with_a_generated_admin_token_starts_and_the_token_works(models_dir: Path, tmp_path: Path) -> None:
    token = new_token()
    env = server_env(models_dir, tmp_path / "var", free_port(), admin_token=token)
    with ServerProcess(env, tmp_path / "server.log").start() as server:
        server.wait_ready()
        with server.client() as client:
            created = client.post("/api/annotators", json={"name": "Dr New"}, headers=bearer(token))
            assert created.status_code == 201, created.text
            assert client.get("/api/annotators/me", headers=bearer(WEAK)).status_code == 401
            assert client.get("/api/annotators/me", headers=bearer(created.json()["token"])).status_code == 200
    assert hash_token(token) in _stored_hashes(tmp_path / "var" / "labels.sqlite3")
