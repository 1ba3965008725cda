"""Volumes from a tiny model: slices, both paths, direction choice, measurements, NIfTI and DICOM read back, the CLI."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from latentct.artifacts import load_direction_set, load_model
from latentct.artifacts.cards import Scorecard
from latentct.artifacts.probe import Probe, load_probe
from latentct.core.errors import InvalidInputError
from latentct.core.hu import unit_to_hu
from latentct.rendering.volume_export import SERIES_DESCRIPTION, export_volume, nifti_affine, nifti_bytes
from latentct.rendering.volume_metrics import measure_volume, summary_lines
from latentct.rendering.volumes import Volume, VolumeModel, VolumeRequest, build_volume, reformat, slice_direction
from tests.rendering.volume_fixtures import make_volume_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_volume_world(tmp_path_factory.mktemp("volumes"))


@pytest.fixture(scope="module")
def model(world: tuple[Path, Path]) -> VolumeModel:
    return VolumeModel.of_loaded(load_model(world[0]))


@pytest.fixture(scope="module")
def probe(world: tuple[Path, Path]) -> Probe:
    return load_probe(world[1])


def request(world: tuple[Path, Path], **kwargs: object) -> VolumeRequest:
    directions = load_direction_set(world[0], "random").directions
    return VolumeRequest(set_id="random", directions=directions, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def straight(world: tuple[Path, Path], model: VolumeModel, probe: Probe) -> Volume:
    return build_volume(model, request(world, direction=2, slices=12), probe)


def test_a_volume_has_n_slices_along_the_searched_range(straight: Volume) -> None:
    assert straight.images.shape == (12, 32, 32)
    assert straight.latents.shape == (12, 8)
    assert len(straight.shifts) == 12 and straight.shifts[0] != straight.shifts[-1]
    assert straight.level_targets is not None and straight.level_targets[0] < straight.level_targets[1]
    assert straight.direction == 2 and straight.direction_source == "given" and straight.path == "straight"
    assert np.isfinite(straight.images).all() and np.abs(straight.images).max() <= 1.0


def test_without_a_probe_the_shifts_fall_back_to_six(world: tuple[Path, Path], model: VolumeModel) -> None:
    volume = build_volume(model, request(world, direction=0, slices=5))
    assert volume.shifts == pytest.approx([-6.0, -3.0, 0.0, 3.0, 6.0])
    assert volume.level_targets is None and volume.notes


def test_the_locked_path_changes_the_other_factors_less(
    world: tuple[Path, Path], model: VolumeModel, probe: Probe, straight: Volume
) -> None:
    locked = build_volume(model, request(world, direction=2, slices=12, path="locked"), probe)
    assert locked.images.shape == straight.images.shape and locked.path == "locked"
    drift_straight = measure_volume(straight, model, probe, baselines=False)["volume"]["max_drift_sd"]
    drift_locked = measure_volume(locked, model, probe, baselines=False)["volume"]["max_drift_sd"]
    assert drift_locked < drift_straight


def test_measurements_have_the_three_stacks(straight: Volume, model: VolumeModel, probe: Probe) -> None:
    measured = measure_volume(straight, model, probe)
    for name in ("volume", "real_phantom", "interpolation"):
        stack = measured[name]
        assert -1.0 <= stack["spearman"] <= 1.0 and 0.0 <= stack["span"] <= 1.0
        assert set(stack["drift_sd"]) == {"brightness"} and stack["step_mean_hu"] > 0
    assert measured["real_phantom"]["spearman"] != 0.0
    assert len(summary_lines(measured)) == 4
    assert set(measured["checks"]) == {"monotone", "spans", "others_held", "not_static", "not_jumpy"}


def test_the_direction_comes_from_consensus_then_scorecard_else_a_clear_error() -> None:
    cell = {"direction": 3, "effect_sd": 0.4, "share": 0.2, "sign_agreement": 0.5, "chance": 1.0, "found": False}
    scorecard = Scorecard.from_json({"model_id": "m", "generator_checksum": "g", "factor_names": ["z_position"],
                                     "paper_factors": ["z_position"], "sets": {"random": {"count": 4, "per_factor": {
                                         "z_position": cell}}}}, Path("scorecard.json"))
    assert slice_direction("random", 4, None, {1: "slice_level", 2: "rotation"}, scorecard) == (1, "consensus")
    assert slice_direction("random", 4, None, {2: "rotation"}, scorecard) == (3, "scorecard")
    with pytest.raises(InvalidInputError, match=r"set 'random' has no slice-level direction.*no scorecard"):
        slice_direction("random", 4, None, None, None)
    with pytest.raises(InvalidInputError, match="no z_position entry for set 'other'"):
        slice_direction("other", 4, None, None, scorecard)
    with pytest.raises(InvalidInputError, match=r"direction 7 is out of range: set 'random' has directions 0\.\.3"):
        slice_direction("random", 4, 7)


@pytest.mark.parametrize("slices", [1, 257, 0])
def test_slices_out_of_range_are_refused(world: tuple[Path, Path], model: VolumeModel, slices: int) -> None:
    with pytest.raises(InvalidInputError, match=f"slices {slices} must be an integer between 2 and 256"):
        build_volume(model, request(world, direction=0, slices=slices))


def test_locked_without_a_probe_and_unknown_paths_are_refused(world: tuple[Path, Path], model: VolumeModel) -> None:
    with pytest.raises(InvalidInputError, match="path 'locked' needs the phantom probe"):
        build_volume(model, request(world, direction=0, path="locked"))
    with pytest.raises(InvalidInputError, match="path 'curved' must be one of"):
        build_volume(model, request(world, direction=0, path="curved"))


def test_reformats_have_square_pixels(straight: Volume) -> None:
    assert reformat(straight, "axial", 3).shape == (32, 32)
    rows = round(11 * straight.slice_spacing_mm / straight.pixel_spacing_mm) + 1
    assert reformat(straight, "coronal").shape == (max(rows, 2), 32)
    assert reformat(straight, "sagittal", 0).shape == (max(rows, 2), 32)
    with pytest.raises(InvalidInputError, match="index 32 is out of range for the coronal plane"):
        reformat(straight, "coronal", 32)


def test_nifti_reads_back_with_nibabel(straight: Volume, tmp_path: Path) -> None:
    out = export_volume(straight, tmp_path / "volume.nii.gz")
    image = nib.Nifti1Image.from_filename(out)
    assert image.shape == (32, 32, 12)
    assert np.allclose(image.affine, nifti_affine(straight))
    assert abs(image.affine[2, 2]) == pytest.approx(straight.slice_spacing_mm)
    data = np.asarray(image.dataobj)
    assert data.dtype == np.int16
    expected = np.rint(unit_to_hu(straight.images, straight.hu_range)).transpose(2, 1, 0)
    assert np.abs(data - expected).max() <= 1
    assert not list(tmp_path.glob(".*"))  # the temporary file was renamed
    with pytest.raises(InvalidInputError, match="already exists"):
        export_volume(straight, out)


def test_nifti_bytes_do_not_depend_on_the_clock(straight: Volume, monkeypatch: pytest.MonkeyPatch) -> None:
    first = nifti_bytes(straight)
    monkeypatch.setattr(gzip.time, "time", lambda: 2_000_000_000.0)  # a later second, as between two requests
    assert nifti_bytes(straight) == first  # a GET and a POST of one latent, or a cache, see the same bytes
    assert first[4:8] == bytes(4)  # the gzip header's MTIME is 0


def test_dicom_series_reads_back_with_pydicom(straight: Volume, tmp_path: Path) -> None:
    folder = export_volume(straight, tmp_path / "series")
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == 12
    slices = [pydicom.dcmread(f) for f in files]
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in slices])
    assert np.allclose(np.diff(positions[:, 2]), -straight.slice_spacing_mm, atol=1e-3)
    assert np.allclose(positions[:, :2], positions[0, :2])
    for ds in slices:
        assert float(ds.SliceThickness) == pytest.approx(straight.slice_spacing_mm, abs=1e-4)
        assert "research only, not for clinical use" in ds.SeriesDescription == SERIES_DESCRIPTION
        assert str(ds.PatientName) == "LatentCT^Synthetic" and ds.Modality == "CT"
        assert ds.pixel_array.shape == (32, 32)
    assert len({ds.SOPInstanceUID for ds in slices}) == 12
    assert len({ds.SeriesInstanceUID for ds in slices}) == 1 and len({ds.StudyInstanceUID for ds in slices}) == 1
    hu = slices[0].pixel_array * float(slices[0].RescaleSlope) + float(slices[0].RescaleIntercept)
    assert np.abs(hu - np.rint(unit_to_hu(straight.images[0], straight.hu_range))).max() <= 1


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from latentct.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, "volume", *args], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_cli_writes_nifti_prints_measurements_and_names_bad_values(world: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, probe_dir = world
    out = tmp_path / "v.nii"
    done = _cli("--model", str(model_dir), "--set", "random", "--direction", "1", "--slices", "8", "--probe", str(probe_dir),
                "--no-baselines", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert nib.Nifti1Image.from_filename(out).shape == (32, 32, 8)
    assert "level Spearman" in done.stdout and "research only, not for clinical use" in done.stdout
    bad = _cli("--model", str(model_dir), "--set", "random", "--probe", str(probe_dir), "--out", str(tmp_path / "x.nii"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("error: set 'random' has no slice-level direction")
    slices = _cli("--model", str(model_dir), "--set", "random", "--slices", "300", "--out", str(tmp_path / "y.nii"))
    assert slices.returncode == 2 and slices.stderr.strip() == "error: slices 300 must be an integer between 2 and 256"
