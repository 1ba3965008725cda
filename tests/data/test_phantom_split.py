"""A phantom dataset regenerated from a model card's data block equals what `latentct data phantom` wrote, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentct.core.errors import InvalidInputError
from latentct.data import phantom
from latentct.data.dataset import SliceDataset
from latentct.data.phantom_split import one_slice, patient_slices, phantom_split

BLOCK = {"source": "phantom", "seed": 4, "patients": 5, "train_slices": 24, "test_slices": 6, "image_size": 32}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("split") / "ds"
    return phantom.generate_dataset(out, patients=5, slices_per_patient=6, size=32, seed=4, progress=False, test_fraction=0.2)


def test_split_names_the_same_patients_as_the_written_dataset(written: Path) -> None:
    split = phantom_split(BLOCK)
    meta = SliceDataset(written, "train").meta
    assert [str(p) for p in split.train] == sorted(meta["split"]["train"], key=int)
    assert [str(p) for p in split.test] == sorted(meta["split"]["test"], key=int)
    assert split.slices_per_patient == 6 and split.size == 32


def test_patient_slices_and_one_slice_equal_the_written_slices(written: Path) -> None:
    split = phantom_split(BLOCK)
    stored = SliceDataset(written, "all")
    ids = stored.factors["patient_id"].astype(int)
    for patient in (0, 3):
        images, levels = patient_slices(split, patient)
        rows = np.flatnonzero(ids == patient)
        np.testing.assert_array_equal(images, np.asarray(stored.slices[rows]))
        np.testing.assert_allclose(levels, stored.factors["z_position"][rows], atol=1e-6)
        alone, level = one_slice(split, patient, 4)
        np.testing.assert_array_equal(alone, np.asarray(stored.slices[rows[4]]))
        assert level == pytest.approx(levels[4])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": "dicom"}, "is not 'phantom'"),
        ({"patients": "many"}, "field 'patients' must be an integer"),
        ({"train_slices": 25}, "cannot be split evenly over 5 patients"),
        ({"test_slices": 30, "train_slices": 0}, "test fraction 1.0 must be within"),
        ({"image_size": 48}, "power of two"),
    ],
)
def test_a_block_that_cannot_be_regenerated_is_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        phantom_split({**BLOCK, **change})


def test_out_of_range_patient_or_slice_is_named() -> None:
    split = phantom_split(BLOCK)
    with pytest.raises(InvalidInputError, match=r"patient 5 must be within 0\.\.4"):
        one_slice(split, 5, 0)
    with pytest.raises(InvalidInputError, match=r"slice index 6 must be within 0\.\.5"):
        one_slice(split, 0, 6)
