"""`latentct data ...` end to end: it works, and bad input gives one line, a non-zero exit and no leftovers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latentct.data.dataset import SliceDataset
from tests.support.cli import run_cli

LATENTCT = Path(sys.executable).parent / "latentct"


def test_phantom_import_preview_through_the_console_script(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    done = subprocess.run(
        [
            str(LATENTCT),
            "data",
            "phantom",
            "--out",
            str(ds),
            "--patients",
            "3",
            "--slices-per-patient",
            "2",
            "--size",
            "32",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(SliceDataset(ds, "all")) == 6
    sheet = tmp_path / "sheet.png"
    done = subprocess.run(
        [str(LATENTCT), "data", "preview", str(ds), "--out", str(sheet), "--count", "6"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_npy_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], phantom_volume: np.ndarray
) -> None:
    np.save(tmp_path / "vol.npy", phantom_volume)
    code, _, err = run_cli(
        capsys, monkeypatch, "data", "import", str(tmp_path / "vol.npy"), "--out", str(tmp_path / "ds"), "--size", "32"
    )
    assert code == 0, err
    assert len(SliceDataset(tmp_path / "ds", "all")) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "phantom", "--out", "{tmp}/o", "--size", "100"], "size 100 must be a power of two"),
        (["data", "phantom", "--out", "{tmp}/o", "--size", "1024"], "size 1024 must be a power of two"),
        (["data", "phantom", "--out", "{tmp}/o", "--patients", "0"], "--patients 0 must be between"),
        (["data", "phantom", "--out", "{tmp}/o", "--slices-per-patient", "-3"], "--slices-per-patient -3"),
        (["data", "phantom", "--out", "{tmp}/o", "--test-fraction", "1.5"], "test fraction 1.5"),
        (
            ["data", "phantom", "--out", "{tmp}/afile/o", "--patients", "1", "--slices-per-patient", "1"],
            "cannot create output directory",
        ),
        (["data", "phantom", "--out", "{tmp}/full", "--patients", "1"], "already exists and is not empty"),
        (["data", "import", "{tmp}/missing", "--out", "{tmp}/o"], "does not exist"),
        (["data", "import", "{tmp}/emptydir", "--out", "{tmp}/o"], "is empty"),
        (["data", "import", "{tmp}/notct", "--out", "{tmp}/o"], "no CT series found"),
        (["data", "import", "{tmp}/notct", "--out", "{tmp}/o", "--size", "17"], "size 17"),
        (["data", "preview", "{tmp}/emptydir", "--out", "{tmp}/s.png"], "not a LatentCT dataset"),
        (["data", "preview", "{tmp}/missing", "--out", "{tmp}/s.png"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("existing data")
    (tmp_path / "notct").mkdir()
    (tmp_path / "notct" / "readme.txt").write_text("no images here")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run_cli(capsys, monkeypatch, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error")]  # other lines may be progress bars
    assert len(errors) == 1 and errors[0] == lines[-1] and message in errors[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing half-written
    assert (tmp_path / "full" / "keep.txt").read_text() == "existing data"


def test_help_texts() -> None:
    done = subprocess.run([str(LATENTCT), "data", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("phantom", "import", "preview"):
        assert command in done.stdout
