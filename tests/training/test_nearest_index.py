"""The nearest-training-slice index: built from a tiny model's phantom data block (or a dataset folder), searched, and
driven through `latentct nearest build` with one-line errors."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latentct.artifacts.nearest import NEAREST_FILE, load_nearest_index
from latentct.artifacts.probe import load_probe
from latentct.core.errors import InvalidInputError
from latentct.data import phantom
from latentct.data.phantom_split import one_slice, phantom_split
from latentct.rendering.nearest import find_nearest, training_slice
from latentct.training.nearest import build_nearest_index
from tests.factories import make_tiny_model
from tests.nearest_factory import TINY_DATA, copy_probe, make_indexed_model
from tests.support.cli import run_cli

LATENTCT = Path(sys.executable).parent / "latentct"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_indexed_model(tmp_path_factory.mktemp("nearest") / "models")


def test_build_writes_a_small_readable_index_with_its_header(indexed: Path) -> None:
    path = indexed / NEAREST_FILE
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p.name for p in indexed.iterdir() if p.name.startswith(".")]  # the temporary file was renamed
    index = load_nearest_index(indexed)
    header = index.header
    assert len(index) == 40 and len(index.held_out) == 8 and index.features.shape == (40, 32)
    assert header["data"] == TINY_DATA and header["rows"] == 40 and header["split"] == "train"
    assert header["probe_checksum"] == load_probe(indexed.parent / "_phantom-probe").meta["checksum"]
    assert header["feature_space"] == {"probe_features": 128, "reduction": "pca", "dims": 32, "dtype": "float16",
                                       "distance": "euclidean"}
    assert 0.0 <= header["recall"]["recall_at_1"] <= 1.0 and header["recall"]["queries"] == 8
    assert header["intended_use"] == "research only, not for clinical use" and header["created"].endswith("Z")
    assert torch.equal(index.held_out, torch.sort(index.held_out).values) and bool((index.held_out > 0).all())
    split = phantom_split(TINY_DATA)
    assert sorted(set(index.patient.tolist())) == list(split.train)  # only training patients are indexed


def test_a_training_slice_fed_back_finds_itself_at_distance_zero(indexed: Path) -> None:
    index = load_nearest_index(indexed)
    probe = load_probe(indexed.parent / "_phantom-probe")
    split = phantom_split(TINY_DATA)
    patient = split.train[1]
    image, level = one_slice(split, patient, 5)
    match = find_nearest(index, probe, image[None], k=3)[0]
    assert (match[0].patient, match[0].slice) == (str(patient), 5)
    assert match[0].level == pytest.approx(level, abs=1e-3)
    assert match[0].distance < 0.05 * float(index.held_out[0])  # float16 rounding only
    assert match[0].percentile == 0.0 and match[0].to_json()["closer_than_held_out_percent"] == 100.0
    assert match[0].distance <= match[1].distance <= match[2].distance
    np.testing.assert_array_equal(training_slice(index, match[0].row), image)


def test_a_held_out_slice_is_read_against_the_held_out_distances(indexed: Path) -> None:
    index = load_nearest_index(indexed)
    probe = load_probe(indexed.parent / "_phantom-probe")
    split = phantom_split(TINY_DATA)
    image, _ = one_slice(split, split.test[0], 2)
    match = find_nearest(index, probe, image[None])[0][0]
    assert match.patient != str(split.test[0])  # held-out patients are not in the index
    share_below = float((index.held_out < match.distance).float().mean()) * 100.0
    assert match.percentile == pytest.approx(share_below) and match.distance > 0.05 * float(index.held_out[0])


def test_a_dataset_folder_is_indexed_with_its_patients_and_slices(tmp_path: Path) -> None:
    data = phantom.generate_dataset(tmp_path / "ds", patients=4, slices_per_patient=5, size=32, seed=9, progress=False,
                                    test_fraction=0.25)
    model_dir = make_tiny_model(tmp_path / "models", "tiny-vae", "vae", seed=2)
    probe = load_probe(copy_probe(tmp_path / "models"))
    index = build_nearest_index(model_dir, probe, data_dir=data, dims=8, progress=False)
    assert len(index) == 15 and len(index.held_out) == 5 and index.header["data"]["source"] == "dataset"
    image = training_slice(load_nearest_index(model_dir), 7)
    match = find_nearest(index, probe, image[None])[0][0]
    assert match.row == 7 and match.percentile == 0.0


def test_a_model_without_a_data_block_is_refused_with_the_way_out(tmp_path: Path) -> None:
    model_dir = make_tiny_model(tmp_path, "tiny-gan")
    probe = load_probe(copy_probe(tmp_path))
    with pytest.raises(InvalidInputError, match=r"has no `data` block in model.json: pass --data DIR"):
        build_nearest_index(model_dir, probe, progress=False)
    assert not (model_dir / NEAREST_FILE).exists()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LATENTCT), "nearest", "build", *args], capture_output=True, text=True, timeout=300)


def test_cli_builds_and_prints_what_it_wrote(tmp_path: Path) -> None:
    from tests.nearest_factory import add_data_block

    model_dir = add_data_block(make_tiny_model(tmp_path, "tiny-gan"))
    done = run("--model", str(model_dir), "--probe", str(copy_probe(tmp_path)), "--no-progress", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "40 training slices x 32 dims" in done.stdout and "recall@1" in done.stdout
    assert (model_dir / NEAREST_FILE).is_file()


def run_in_process(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`latentct nearest build ARGS` in-process: (exit code, stderr)."""
    code, _, err = run_cli(capsys, monkeypatch, "nearest", "build", *args)
    return code, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dims", "0"], "--dims 0 must be within 1..128"),
        (["--workers", "-1"], "--workers -1 must be within 0..256"),
        (["--data", "/nonexistent"], "--data '/nonexistent' is not a folder with dataset.json"),
        ([], "has no `data` block in model.json: pass --data DIR"),
    ],
)
def test_cli_bad_input_is_one_line_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    model_dir = make_tiny_model(tmp_path, "tiny-gan")
    code, err = run_in_process(["--model", str(model_dir), "--probe", str(copy_probe(tmp_path)), *args], monkeypatch, capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (model_dir / NEAREST_FILE).exists()


def test_cli_names_a_folder_that_is_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_in_process(["--model", str(tmp_path)], monkeypatch, capsys)
    assert code == 2 and f"--model '{tmp_path}' is not a folder with model.json" in err and "Traceback" not in err


def test_cli_unknown_option_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_in_process(["--model", str(tmp_path), "--bogus"], monkeypatch, capsys)
    assert code == 2 and "--bogus" in err and "Traceback" not in err
