"""`latentct annotators`, `latentct labels export` and `latentct db upgrade` on a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from latentct.commands import labels as label_commands
from latentct.labels.db import create_label_engine, head_revision
from latentct.labels.store import hash_token
from tests.labels.label_test_support import IDENTITY, make_store


def _app() -> typer.Typer:
    app = typer.Typer()
    label_commands.register(app)
    return app


def test_annotators_add_prints_the_token_once_and_stores_its_hash(sqlite_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["annotators", "add", "Dr Roe", "--admin", "--database-url", sqlite_url])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    store = make_store(sqlite_url, admin_token=None)
    annotator = store.authenticate(token)
    assert annotator is not None and annotator.is_admin and annotator.name == "Dr Roe"
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT token_sha256 FROM annotators").scalar() == hash_token(token)
    store.close()
    listed = runner.invoke(_app(), ["annotators", "list", "--database-url", sqlite_url])
    assert "Dr Roe" in listed.stdout and token not in listed.stdout


def test_labels_export_writes_csv_and_json(tmp_path: Path, sqlite_url: str) -> None:
    store = make_store(sqlite_url)
    annotator, _ = store.create_annotator("A")
    store.add_label(annotator, IDENTITY, 1, "rotation", confidence=5, polarity="clockwise")
    store.close()
    runner = CliRunner()
    for export_format in ("csv", "json"):
        out = tmp_path / "out" / f"labels.{export_format}"
        args = [
            "labels",
            "export",
            "--format",
            export_format,
            "--out",
            str(out),
            "--database-url",
            sqlite_url,
        ]
        result = runner.invoke(_app(), args)
        assert result.exit_code == 0, result.output
        assert "wrote 1 labels" in result.stdout
    assert json.loads((tmp_path / "out" / "labels.json").read_text())["labels"][0]["polarity"] == "clockwise"
    assert (tmp_path / "out" / "labels.csv").read_text().splitlines()[0].startswith("id,annotator_id,")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "labels.csv",
        "labels.json",
    ]  # no temp files


def test_db_upgrade_and_errors_are_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'labels.sqlite3'}"
    command = [sys.executable, "-m", "latentct.cli", "db", "upgrade", "--database-url", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    head = head_revision(create_label_engine(url))
    assert done.returncode == 0 and f"label database at revision {head}" in done.stdout, done.stderr
    down = [
        sys.executable,
        "-m",
        "latentct.cli",
        "db",
        "upgrade",
        "--database-url",
        "postgresql+psycopg://postgres@127.0.0.1:1/x",
    ]
    failed = subprocess.run(down, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and failed.stderr.startswith("error: cannot migrate the label database")
    assert "Traceback" not in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
