"""Nearest training slice of generated images, as the server answers it: probe features -> the model's index
(artifacts/nearest.py) -> patient, level, distance and how that distance compares with held-out real slices'; and the
training slice itself, rendered again from the seeded phantom (or read from the dataset folder of real data).

A generated image far closer to a training slice than new real slices come (percentile ~0) is a copy; one at a
typical distance (percentile ~50) is as new as a real slice of an unseen patient.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentct.artifacts.nearest import NearestIndex, load_nearest_index
from latentct.artifacts.probe import PROBE_DIR_NAME, PROBE_JSON, Probe, load_probe
from latentct.core.errors import ArtifactError, NotFoundError
from latentct.data.dataset import SliceDataset
from latentct.data.phantom_split import one_slice, phantom_split

METHOD = ("Euclidean distance in the phantom probe's feature space (PCA, see feature_space) to the nearest training "
          "slice; percentile: share of held-out real slices (patients the model never saw) whose own nearest training "
          "slice is nearer. Near 0: closer than almost any real new slice, i.e. likely a copy.")


@dataclass(frozen=True)
class NearestMatch:
    """One training slice near a query image."""

    row: int
    patient: str
    slice: int
    level: float
    distance: float
    percentile: float

    def to_json(self) -> dict[str, Any]:
        return {
            "patient": self.patient, "slice": self.slice, "level": round(self.level, 4), "split": "train",
            "distance": round(self.distance, 4), "percentile": round(self.percentile, 2),
            "closer_than_held_out_percent": round(100.0 - self.percentile, 2),
        }


def check_probe(index: NearestIndex, probe: Probe) -> None:
    """The index must have been built in this probe's feature space."""
    built_with, served = index.header.get("probe_checksum"), probe.meta.get("checksum")
    if built_with != served:
        raise ArtifactError(f"the nearest index was built with probe {str(built_with)[:12]}, the served probe is "
                            f"{str(served)[:12]}: rebuild it with `latentct nearest build`")


def find_nearest(index: NearestIndex, probe: Probe, images: torch.Tensor | np.ndarray, k: int = 1) -> list[list[NearestMatch]]:
    """images [B, H, W] or [B, 1, H, W] in [-1, 1] -> for each, its k nearest training slices, nearest first."""
    batch = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if batch.dim() == 3:
        batch = batch[:, None]
    distances, rows = index.nearest(index.reduce(probe.features(batch)), k)
    percentiles = index.percentile(distances.flatten()).reshape(distances.shape)
    return [
        [NearestMatch(int(r), index.patient_name(int(r)), int(index.slice[r]), float(index.level[r]), float(d), float(p))
         for r, d, p in zip(row_r.tolist(), row_d.tolist(), row_p.tolist(), strict=True)]
        for row_r, row_d, row_p in zip(rows, distances, percentiles, strict=True)
    ]


def describe_index(index: NearestIndex) -> dict[str, Any]:
    """What a client needs to read a distance: the feature space, the yardstick's size, the data it indexes."""
    header = index.header
    data = header.get("data") or {}
    return {"feature_space": header.get("feature_space"), "rows": len(index), "held_out": len(index.held_out),
            "data": {k: data.get(k) for k in ("source", "seed", "patients", "image_size") if k in data},
            "recall": header.get("recall"), "method": METHOD}


def training_slice(index: NearestIndex, row: int) -> np.ndarray:
    """The training slice of index row `row`, float32 [H, W] in [-1, 1]."""
    data = index.header.get("data") or {}
    if data.get("source") == "phantom":
        image, _ = one_slice(phantom_split(data), int(index.patient[row]), int(index.slice[row]))
        return image
    path = Path(str(data.get("path", "")))
    if not (path / "dataset.json").is_file():
        raise NotFoundError(f"the training data of this index ({str(path)!r}) is not on this server, so its slices "
                            "cannot be shown")
    dataset = SliceDataset(path, split="train")
    return np.asarray(dataset[row][0].numpy(), dtype=np.float32)


class IndexCache:
    """Each model's index, loaded on first use and again when the file changes (by mtime and size)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[Path, tuple[tuple[int, int], NearestIndex]] = {}

    def get(self, model_dir: Path) -> NearestIndex:
        path = model_dir / "nearest.safetensors"
        try:
            stat = path.stat()
        except OSError:
            raise NotFoundError(
                f"model {model_dir.name!r} has no nearest-training-slice index: build it with "
                f"`latentct nearest build --model models/{model_dir.name}`"
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._loaded.get(model_dir)
            if cached is None or cached[0] != stamp:
                cached = (stamp, load_nearest_index(model_dir))
                self._loaded[model_dir] = cached
            return cached[1]


NEAREST_INDEXES = IndexCache()  # the serving process's indexes, shared by the nearest and the volume endpoints


_probes: dict[Path, Probe | None] = {}
_probes_lock = threading.Lock()


def served_probe(models_dir: Path) -> Probe | None:
    """The phantom probe beside the served models, loaded once; None when there is none (shifts fall back to +-6)."""
    with _probes_lock:
        if models_dir not in _probes:
            probe_dir = models_dir / PROBE_DIR_NAME
            _probes[models_dir] = load_probe(probe_dir) if (probe_dir / PROBE_JSON).is_file() else None
        return _probes[models_dir]
