"""A phantom dataset's slices regenerated from its description (a model card's `data` block), never read from disk.

The phantom is procedural and seeded: patient `p` of a dataset is drawn from `patient_rng(seed, p)`, then its sorted
slice levels, then one noise field per slice in level order. So any slice can be rendered again from (patient, slice
index), bit for bit as `latentct data phantom` wrote it, and a whole split from the block's counts alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from latentct.core.errors import InvalidInputError
from latentct.core.hu import hu_to_unit
from latentct.data.dataset import check_image_size, split_patients
from latentct.data.phantom import patient_rng, render_slice, sample_patient

_BLOCK_KEYS = ("seed", "patients", "train_slices", "test_slices", "image_size")


@dataclass(frozen=True)
class PhantomSplit:
    """Which patients a phantom dataset had, how many slices each, at which size, in which split."""

    seed: int
    patients: int
    slices_per_patient: int
    size: int
    train: tuple[int, ...]  # patient indices
    test: tuple[int, ...]

    def patients_of(self, split: str) -> tuple[int, ...]:
        if split not in ("train", "test"):
            raise InvalidInputError(f"split {split!r} must be 'train' or 'test'")
        return self.train if split == "train" else self.test


def _block_int(block: Mapping[str, Any], key: str) -> int:
    value = block.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"data block: field {key!r} must be an integer >= 0, got {value!r}")
    return value


def phantom_split(block: Mapping[str, Any]) -> PhantomSplit:
    """The split a model card's data block describes; InvalidInputError naming the field when it is not a phantom's."""
    if block.get("source") != "phantom":
        raise InvalidInputError(f"data block: source {block.get('source')!r} is not 'phantom', so it cannot be regenerated")
    seed, patients, train_slices, test_slices, size = (_block_int(block, key) for key in _BLOCK_KEYS)
    total = train_slices + test_slices
    if patients < 1 or total % patients:
        raise InvalidInputError(f"data block: {total} slices cannot be split evenly over {patients} patients")
    per_patient = total // patients
    train, test = split_patients([str(i) for i in range(patients)], (test_slices // per_patient) / patients, seed)
    if len(test) * per_patient != test_slices:
        raise InvalidInputError(f"data block: test_slices {test_slices} does not match a split by patient of {patients}")
    return PhantomSplit(seed, patients, per_patient, check_image_size(size),
                        tuple(sorted(int(p) for p in train)), tuple(sorted(int(p) for p in test)))


def _patient(split: PhantomSplit, patient: int) -> tuple[Any, np.ndarray, np.random.Generator]:
    if not 0 <= patient < split.patients:
        raise InvalidInputError(f"patient {patient} must be within 0..{split.patients - 1}")
    rng = patient_rng(split.seed, patient)
    person = sample_patient(rng, patient_id=patient)
    levels = np.sort(rng.uniform(0.0, 1.0, split.slices_per_patient))
    return person, levels, rng


def patient_slices(split: PhantomSplit, patient: int) -> tuple[np.ndarray, np.ndarray]:
    """All slices of one patient: float32 [S, size, size] in [-1, 1] and their levels (z_position) [S]."""
    person, levels, rng = _patient(split, patient)
    hu = np.stack([render_slice(person, float(z), split.size, rng) for z in levels])
    return np.asarray(hu_to_unit(hu), dtype=np.float32), levels


def one_slice(split: PhantomSplit, patient: int, index: int) -> tuple[np.ndarray, float]:
    """Slice `index` of `patient` alone, float32 [size, size] in [-1, 1], and its level: the noise fields of the slices
    before it are drawn and dropped, which is all that rendering them would take from the generator."""
    person, levels, rng = _patient(split, patient)
    if not 0 <= index < split.slices_per_patient:
        raise InvalidInputError(f"slice index {index} must be within 0..{split.slices_per_patient - 1}")
    for _ in range(index):
        rng.standard_normal((split.size, split.size), dtype=np.float32)
    hu = render_slice(person, float(levels[index]), split.size, rng)
    return np.asarray(hu_to_unit(hu), dtype=np.float32), float(levels[index])
