"""The real phantom patient shown beside a generated volume: one patient of the model's phantom training set, rendered
at the volume's levels and spacing (the same stack `volume_metrics` measures as its baseline). Research only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from latentct.artifacts.nearest import NearestIndex
from latentct.artifacts.probe import Probe
from latentct.core.errors import InvalidInputError
from latentct.data.phantom import patient_rng
from latentct.data.phantom_split import phantom_split
from latentct.rendering.nearest import find_nearest
from latentct.rendering.volume_metrics import real_phantom_stack, volume_levels
from latentct.rendering.volumes import Volume

DEFAULT_REFERENCE_PATIENT = 0  # where the model has no nearest-training-slice index (or no probe is served)
DEFAULT_PHANTOM_SEED = 0  # `latentct data phantom` defaults, assumed for a model card that names no training data
DEFAULT_PHANTOM_PATIENTS = 2000


@dataclass(frozen=True)
class PhantomTrainingSet:
    """Which phantom data set a model was trained on: its generator seed, patient count and held-out patients."""

    seed: int
    patients: int
    test_patients: frozenset[int]
    stated: bool  # False: the model card names no training data and the `latentct data phantom` defaults are assumed

    def split_of(self, patient: int) -> str:
        if not self.stated:
            return "unknown"
        return "test" if patient in self.test_patients else "train"


def phantom_training_set(manifest: Mapping[str, Any]) -> PhantomTrainingSet:
    """The phantom data set of a model card (`model.json` `data`, see data/phantom_split.py); a model trained on
    other data has no reference (InvalidInputError naming it)."""
    data = manifest.get("data")
    if not isinstance(data, Mapping) or not data:
        return PhantomTrainingSet(DEFAULT_PHANTOM_SEED, DEFAULT_PHANTOM_PATIENTS, frozenset(), stated=False)
    if data.get("source") != "phantom":
        raise InvalidInputError(
            f"reference 'phantom' needs a model trained on the phantom; {manifest.get('id')!r} was trained on "
            f"{data.get('source')!r} data"
        )
    split = phantom_split(data)
    return PhantomTrainingSet(split.seed, split.patients, frozenset(split.test), stated=True)


def nearest_training_patient(volume: Volume, index: NearestIndex, probe: Probe) -> int:
    """The training patient most of the volume's slices are nearest to (probe features, rendering/nearest.py); a tie
    goes to the patient whose slice is nearest overall."""
    matches = [row[0] for row in find_nearest(index, probe, volume.images, k=1)]
    votes = Counter(int(index.patient[m.row]) for m in matches)
    closest: dict[int, float] = {}
    for m in sorted(matches, key=lambda m: m.distance):
        closest.setdefault(int(index.patient[m.row]), m.distance)
    return max(votes, key=lambda patient: (votes[patient], -closest[patient]))


def reference_patient(requested: int | None, training: PhantomTrainingSet, nearest: int | None = None) -> int:
    """The patient to show: the one asked for (checked against the data set), else the nearest training patient
    when the model has an index, else DEFAULT_REFERENCE_PATIENT."""
    if requested is None:
        return DEFAULT_REFERENCE_PATIENT if nearest is None else nearest
    if isinstance(requested, bool) or not 0 <= requested < training.patients:
        raise InvalidInputError(
            f"patient {requested!r} is out of range: the phantom training set has patients 0..{training.patients - 1}"
        )
    return int(requested)


def reference_volume(volume: Volume, patient: int, training: PhantomTrainingSet) -> Volume:
    """Patient `patient` of the training set at the volume's levels, slice count, pixel and slice spacing."""
    size = int(volume.images.shape[-1])
    rng = patient_rng(training.seed, patient)
    images = real_phantom_stack(volume.count, size, volume_levels(volume), volume.hu_range, patient, rng=rng)
    note = (
        f"real phantom patient {patient} ({training.split_of(patient)} split of the phantom data set, seed "
        f"{training.seed}{'' if training.stated else ', assumed: the model card names no training data'}) at the "
        "generated volume's levels and spacing"
    )
    return replace(volume, images=images, notes=[*volume.notes, note])


def reference_description(patient: int, training: PhantomTrainingSet) -> dict[str, Any]:
    """The json `reference` block: which patient, from which data set and split."""
    return {
        "kind": "phantom", "patient": patient, "split": training.split_of(patient), "data_seed": training.seed,
        "patients": training.patients, "data_stated": training.stated,
    }
