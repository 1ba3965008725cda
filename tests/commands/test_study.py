"""`latentct study create` and `latentct study results` through the real entry point (one-line errors, exit codes)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from latentct.commands.study import FolderCatalog
from latentct.labels.studies import LabelFields, StudyStore
from tests.factories import make_tiny_models_dir
from tests.labels.label_test_support import make_store


def _latentct(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "latentct.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_create_label_and_export_results(tmp_path: Path, sqlite_url: str) -> None:
    models_dir = make_tiny_models_dir(tmp_path / "models")
    common = ("--models-dir", str(models_dir), "--database-url", sqlite_url)
    created = _latentct("study", "create", "--model", "tiny-gan", "--sets", "random,sefa", "--name", "pilot",
                        "--directions-per-set", "2", *common)
    assert created.returncode == 0, created.stderr
    study_id = int(created.stdout.strip())
    assert "random (2), sefa (2)" in created.stderr
    store = make_store(sqlite_url, admin_token=None)
    try:
        studies = StudyStore(store)
        reader, _ = store.create_annotator("Dr Reader")
        catalog = FolderCatalog(models_dir)
        for item in studies.annotator_items(study_id, reader)[:3]:
            studies.label_item(reader, study_id, item.item_id, catalog, LabelFields("rotation", confidence=5))
    finally:
        store.close()
    out = tmp_path / "results"
    result = _latentct("study", "results", str(study_id), "--out", str(out), *common)
    assert result.returncode == 0, result.stderr
    assert "no scorecard" in result.stderr
    rows = list(csv.DictReader((out / f"study-{study_id}-results.csv").open()))
    assert [row["set"] for row in rows] == ["random", "sefa"]
    assert sum(int(row["labels"]) for row in rows) == 3
    assert (out / f"study-{study_id}-results.png").read_bytes().startswith(b"\x89PNG")
    assert not [p for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_errors_are_one_line(tmp_path: Path, sqlite_url: str) -> None:
    models_dir = make_tiny_models_dir(tmp_path / "models")
    common = ("--models-dir", str(models_dir), "--database-url", sqlite_url)
    for args in (
        ("study", "create", "--model", "tiny-gan", "--sets", "random,nosuchset", *common),
        ("study", "create", "--model", "nosuchmodel", "--sets", "random,sefa", *common),
        ("study", "create", "--model", "tiny-gan", "--sets", "random", *common),
        ("study", "create", "--model", "tiny-gan", "--sets", "random,sefa", "--name", "sefa study", *common),
        ("study", "results", "42", "--out", str(tmp_path / "out"), *common),
    ):
        result = _latentct(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
