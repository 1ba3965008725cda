"""`latentct volume --from-slice` (issue 20, item 1): a volume around an encoded slice file instead of a seed, through
the real CLI on a tiny GAN (latent optimisation); --seed with it is one error line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.factories import make_tiny_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models"), "tiny-gan", "gan", seed=1)


@pytest.fixture(scope="module")
def slice_npy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40 x 40 HU slice: a water disc in air."""
    yy, xx = np.mgrid[:40, :40]
    hu = np.where((yy - 20) ** 2 + (xx - 20) ** 2 < 15**2, 0.0, -1000.0).astype(np.float32)
    path = tmp_path_factory.mktemp("slice") / "disc.npy"
    np.save(path, hu)
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from latentct.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, "volume", *args], capture_output=True, text=True, cwd=REPO, timeout=300)


def test_from_slice_writes_a_nifti_around_the_encoded_slice(tiny_gan: Path, slice_npy: Path, tmp_path: Path) -> None:
    out = tmp_path / "encoded.nii.gz"
    done = _cli("--model", str(tiny_gan), "--set", "random", "--direction", "1", "--slices", "6", "--no-probe",
                "--no-baselines", "--from-slice", str(slice_npy), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert nib.Nifti1Image.from_filename(out).shape == (32, 32, 6)
    assert "encoding disc.npy (npy) with tiny-gan by latent optimisation (150 steps)" in done.stderr
    assert "note: around an encoded slice (reconstruction error " in done.stdout and " HU)" in done.stdout
    seeded = tmp_path / "seeded.nii.gz"
    plain = _cli("--model", str(tiny_gan), "--set", "random", "--direction", "1", "--slices", "6", "--no-probe",
                 "--no-baselines", "--out", str(seeded))
    assert plain.returncode == 0, plain.stderr
    assert "encoded slice" not in plain.stdout
    encoded_hu = np.asarray(nib.load(out).dataobj)
    assert not np.array_equal(encoded_hu, np.asarray(nib.load(seeded).dataobj))  # the slice's latent, not seed 0's


def test_seed_and_from_slice_is_one_error_line(tiny_gan: Path, slice_npy: Path, tmp_path: Path) -> None:
    both = _cli("--model", str(tiny_gan), "--set", "random", "--direction", "1", "--seed", "3", "--from-slice",
                str(slice_npy), "--out", str(tmp_path / "x.nii"))
    assert both.returncode == 2
    assert both.stderr.strip() == (f"error: --seed 3 and --from-slice {str(slice_npy)!r} both pick the base latent: give one")
    assert "Traceback" not in both.stderr and not (tmp_path / "x.nii").exists()
