"""Building a model's nearest-training-slice index (artifacts/nearest.py): every training slice embedded by the probe.

The slices come from the model card's `data` block, regenerated from the seeded phantom (data/phantom_split.py, one
process per core), or from a dataset folder (`--data`, e.g. real CT). Probe features are reduced by PCA (fitted on the
training features) to `dims` and stored as float16; held-out slices' nearest distances in the same space become the
yardstick. How often the reduced index still finds the true nearest neighbour (in full probe features, with
training/quality.py's exact search) is measured on held-out slices and recorded in the header.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from latentct.artifacts import load_manifest
from latentct.artifacts.nearest import NearestIndex, pca, save_nearest_index
from latentct.artifacts.probe import Probe
from latentct.core.errors import InvalidInputError
from latentct.data.phantom_split import PhantomSplit, patient_slices, phantom_split
from latentct.training.data import open_split
from latentct.training.quality import _nearest_distances

DEFAULT_DIMS = 32
RECALL_QUERIES = 1000  # held-out slices on which the reduced index is checked against the exact search
_BATCH = 512


@dataclass
class Embedded:
    """One split, embedded: probe features [N, F] and, per row, patient code, slice index and level."""

    features: list[torch.Tensor] = field(default_factory=list)
    patient: list[int] = field(default_factory=list)
    slice: list[int] = field(default_factory=list)
    level: list[float] = field(default_factory=list)

    def add(self, probe: Probe, images: np.ndarray, patients: list[int], slices: list[int], levels: list[float]) -> None:
        self.features.append(probe.features(torch.from_numpy(images)[:, None]))
        self.patient += patients
        self.slice += slices
        self.level += levels

    def matrix(self) -> torch.Tensor:
        return torch.cat(self.features) if self.features else torch.empty(0, 0)


# -- sources -----------------------------------------------------------------------------------------------------


def _render_patient(job: tuple[PhantomSplit, int]) -> tuple[int, np.ndarray, np.ndarray]:
    split, patient = job
    images, levels = patient_slices(split, patient)
    return patient, images, levels


def _pool_size(workers: int | None) -> int:
    return max(1, workers if workers else (os.cpu_count() or 1))


def embed_phantom(split: PhantomSplit, which: str, probe: Probe, workers: int | None, progress: bool) -> Embedded:
    """Regenerate one split of the phantom, patient by patient on `workers` processes, and embed it in the parent."""
    patients = split.patients_of(which)
    out = Embedded()
    jobs = [(split, p) for p in patients]
    bar = tqdm(total=len(patients) * split.slices_per_patient, desc=f"nearest: {which} slices", unit="slice",
               disable=not progress)
    pending: list[tuple[int, np.ndarray, np.ndarray]] = []
    with multiprocessing.get_context("spawn" if os.name == "nt" else "fork").Pool(_pool_size(workers)) as pool:
        for item in pool.imap(_render_patient, jobs, chunksize=4):
            pending.append(item)
            if sum(len(p[1]) for p in pending) >= _BATCH:
                _flush(out, probe, pending)
                bar.update(sum(len(p[1]) for p in pending))
                pending = []
    bar.update(sum(len(p[1]) for p in pending))
    _flush(out, probe, pending)
    bar.close()
    return out


def _flush(out: Embedded, probe: Probe, pending: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
    if not pending:
        return
    images = np.concatenate([p[1] for p in pending])
    patients = [p[0] for p in pending for _ in range(len(p[1]))]
    slices = [i for p in pending for i in range(len(p[1]))]
    levels = [float(v) for p in pending for v in p[2]]
    out.add(probe, images, patients, slices, levels)


def embed_dataset(path: Path, which: str, probe: Probe, codes: dict[str, int], progress: bool) -> Embedded:
    """One split of a dataset folder; patients get integer codes in `codes` (shared by both splits)."""
    data = open_split(path, which)
    factors = data.factors
    column = str(data.meta.get("patient_column", "patient"))
    ids = [str(v) for v in factors.get(column, np.zeros(len(data)))]
    level_column = next((c for c in ("z_position", "z") if c in factors), None)
    seen: dict[str, int] = {}
    out = Embedded()
    for start in tqdm(range(0, len(data), _BATCH), desc=f"nearest: {which} slices", disable=not progress):
        rows = list(range(start, min(start + _BATCH, len(data))))
        patients = [codes.setdefault(ids[i], len(codes)) for i in rows]
        slices = [_count(seen, ids[i]) for i in rows]
        levels = [float(factors[level_column][i]) if level_column else float(s) for i, s in zip(rows, slices, strict=True)]
        out.add(probe, data.images(rows)[:, 0].numpy(), patients, slices, levels)
    return out


def _count(seen: dict[str, int], key: str) -> int:
    seen[key] = seen.get(key, -1) + 1
    return seen[key]


# -- the index ---------------------------------------------------------------------------------------------------


class _Rows:
    """Feature rows served as `images` to training/quality.py's exact nearest search."""

    def __init__(self, rows: torch.Tensor) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def images(self, indices: list[int]) -> torch.Tensor:
        return self.rows[indices]


def measure_recall(index: NearestIndex, train: torch.Tensor, queries: torch.Tensor) -> dict[str, Any]:
    """How often the reduced index's nearest row is the exact nearest in full probe features (ties count as found),
    and how much farther (in full features) the found row is than the true nearest, at the median."""
    exact = _nearest_distances([queries], _Rows(train), [lambda x: x])[0].float()
    _, rows = index.nearest(index.reduce(queries))
    found = (queries - train[rows[:, 0]]).norm(dim=1)
    ratio = found / exact.clamp(min=1e-12)
    return {"queries": len(queries), "recall_at_1": round(float((ratio <= 1.0 + 1e-4).float().mean()), 4),
            "median_distance_ratio": round(float(ratio.median()), 4)}


def assemble(train: Embedded, test: Embedded, dims: int) -> tuple[NearestIndex, torch.Tensor]:
    """PCA on the training features, rows as float16 would store them, held-out distances; also the full features."""
    full = train.matrix()
    if len(full) < 2 or len(test.patient) < 1:
        raise InvalidInputError(f"an index needs >= 2 training and >= 1 held-out slices, got {len(full)} and {len(test.patient)}")
    mean, components = pca(full, min(dims, full.shape[1], len(full)))
    reduced = ((full - mean) @ components).half().float()
    index = NearestIndex(
        features=reduced, mean=mean, components=components, patient=torch.tensor(train.patient),
        slice=torch.tensor(train.slice), level=torch.tensor(train.level, dtype=torch.float32), held_out=torch.empty(0),
    )
    index.held_out = torch.sort(index.nearest(index.reduce(test.matrix()))[0][:, 0]).values
    return index, full


def _data_block(model_dir: Path, data_dir: Path | None) -> dict[str, Any]:
    block = load_manifest(model_dir).get("data")
    if data_dir is not None:
        return {**(block if isinstance(block, dict) else {}), "path": str(data_dir), "source": "dataset"}
    if not isinstance(block, dict) or not block:
        raise InvalidInputError(
            f"model {str(model_dir)!r} has no `data` block in model.json: pass --data DIR (a dataset folder)")
    return block


def build_nearest_index(model_dir: Path | str, probe: Probe, data_dir: Path | None = None, dims: int = DEFAULT_DIMS,
                        workers: int | None = None, progress: bool = True) -> NearestIndex:
    """Embed the model's training split (and held-out split), reduce, measure the recall, and save the index."""
    model_dir, started = Path(model_dir), time.perf_counter()
    block = _data_block(model_dir, data_dir)
    codes: dict[str, int] = {}
    if data_dir is None:
        split = phantom_split(block)
        train, test = (embed_phantom(split, which, probe, workers, progress) for which in ("train", "test"))
    else:
        train, test = (embed_dataset(data_dir, which, probe, codes, progress) for which in ("train", "test"))
    index, full = assemble(train, test, dims)
    queries = test.matrix()[torch.randperm(len(test.patient), generator=torch.Generator().manual_seed(0))[:RECALL_QUERIES]]
    index.header = _header(block, probe, index, full, codes)
    index.header["recall"] = measure_recall(index, full, queries)
    index.header["build_seconds"] = round(time.perf_counter() - started, 1)
    save_nearest_index(model_dir, index)
    return index


def _header(block: dict[str, Any], probe: Probe, index: NearestIndex, full: torch.Tensor, codes: dict[str, int]
            ) -> dict[str, Any]:
    numeric = all(name.isdigit() and int(name) == code for name, code in codes.items())
    return {
        "data": block,
        "probe_checksum": probe.meta.get("checksum"),
        "feature_space": {"probe_features": int(full.shape[1]), "reduction": "pca", "dims": int(index.features.shape[1]),
                          "dtype": "float16", "distance": "euclidean"},
        "rows": len(index), "split": "train", "held_out": len(index.held_out),
        "patient_names": None if numeric else sorted(codes, key=codes.__getitem__),
    }

