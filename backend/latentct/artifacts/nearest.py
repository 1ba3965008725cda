"""A model's nearest-training-slice index, `<model>/nearest.safetensors`, and the brute-force search over it.

One row per training slice: its probe features reduced by PCA (`features`, float16 [N, D]) with the patient, slice
index within the patient and level (z_position, or the slice position of real data). Beside them: the PCA (`mean`
[F], `components` [F, D]) that maps probe features into the index, and `held_out`: every held-out real slice's
distance to its nearest training slice, sorted, the yardstick a generated image's distance is read against. The
safetensors metadata key `latentct` holds a JSON header: data block, probe checksum, feature space, created.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from latentct import INTENDED_USE
from latentct.core.errors import ArtifactError, InvalidInputError, NotFoundError
from latentct.core.fsutil import atomic_save

NEAREST_FILE = "nearest.safetensors"
FORMAT_VERSION = 1
_TENSORS = ("features", "mean", "components", "patient", "slice", "level", "held_out")
_CHUNK = 1024  # queries per distance matrix (1024 x 57 600 float32: 236 MB at most)


@dataclass
class NearestIndex:
    """Loaded (or freshly built) index; `features` float32 in memory, whatever the file stores."""

    features: torch.Tensor  # [N, D]
    mean: torch.Tensor  # [F]
    components: torch.Tensor  # [F, D]
    patient: torch.Tensor  # [N] integer codes (the patient index of phantom data)
    slice: torch.Tensor  # [N] index of the slice within its patient
    level: torch.Tensor  # [N]
    held_out: torch.Tensor  # [M] sorted
    header: dict[str, Any] = field(default_factory=dict)
    _norms: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def reduce(self, features: torch.Tensor) -> torch.Tensor:
        """Probe features [Q, F] -> the index's space [Q, D]."""
        if features.dim() != 2 or features.shape[1] != self.mean.shape[0]:
            raise InvalidInputError(f"features must have shape [Q, {self.mean.shape[0]}], got {list(features.shape)}")
        return (features.float() - self.mean) @ self.components

    def nearest(self, reduced: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Brute force: for each row of `reduced` [Q, D], the k nearest rows' Euclidean distances and indices [Q, k]."""
        if not 1 <= k <= len(self):
            raise InvalidInputError(f"k {k} must be within 1..{len(self)}")
        if self._norms is None:
            self._norms = (self.features * self.features).sum(dim=1)
        distances, rows = [], []
        for start in range(0, len(reduced), _CHUNK):
            q = reduced[start : start + _CHUNK].float()
            d2 = (q * q).sum(dim=1, keepdim=True) + self._norms[None, :] - 2.0 * q @ self.features.T
            best = torch.topk(d2, k, dim=1, largest=False)
            distances.append(best.values.clamp(min=0).sqrt())
            rows.append(best.indices)
        if not distances:
            return torch.empty(0, k), torch.empty(0, k, dtype=torch.long)
        return torch.cat(distances), torch.cat(rows)

    def percentile(self, distances: torch.Tensor) -> torch.Tensor:
        """Share (0..100) of held-out real slices nearer to the training set than each distance: ~0 means closer than
        almost any new real slice comes, i.e. a copy."""
        below = torch.searchsorted(self.held_out.contiguous(), distances.float().contiguous(), right=False)
        return below.float() * (100.0 / max(len(self.held_out), 1))

    def patient_name(self, row: int) -> str:
        names = self.header.get("patient_names")
        code = int(self.patient[row])
        return str(names[code]) if isinstance(names, list) else str(code)


def _patient_dtype(patient: torch.Tensor) -> torch.dtype:
    return torch.int16 if len(patient) == 0 or int(patient.max()) < 2**15 else torch.int32


def save_nearest_index(model_dir: Path | str, index: NearestIndex) -> Path:
    """Write `<model_dir>/nearest.safetensors` (temp path, then rename): features float16, small ints, the header."""
    path = Path(model_dir) / NEAREST_FILE
    tensors = {
        "features": index.features.to(torch.float16),
        "mean": index.mean.float(),
        "components": index.components.float(),
        "patient": index.patient.to(_patient_dtype(index.patient)),
        "slice": index.slice.to(torch.int16),
        "level": index.level.to(torch.float16),
        "held_out": torch.sort(index.held_out.float()).values,
    }
    header = {"format_version": FORMAT_VERSION, "kind": "nearest-index", **index.header,
              "intended_use": INTENDED_USE, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    metadata = {"latentct": json.dumps(header, allow_nan=False)}
    cpu = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}

    def write(tmp: Path) -> None:
        save_file(cpu, str(tmp), metadata=metadata)
        os.chmod(tmp, 0o644)  # save_file makes a new file; a served models dir is read by others

    atomic_save(path, write, suffix=".safetensors")
    index.header = header
    return path


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118  (safe_open is no mapping)
        header = json.loads(metadata.get("latentct", "null"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a readable nearest index ({exc})") from None
    if not isinstance(header, dict) or header.get("kind") != "nearest-index":
        raise ArtifactError(f"{path}: no nearest-index header (rebuild it with `latentct nearest build`)")
    missing = [name for name in _TENSORS if name not in tensors]
    if missing:
        raise ArtifactError(f"{path}: tensors {missing} are missing (rebuild it with `latentct nearest build`)")
    return tensors, header


def has_nearest_index(model_dir: Path | str) -> bool:
    return (Path(model_dir) / NEAREST_FILE).is_file()


def load_nearest_index(model_dir: Path | str) -> NearestIndex:
    """Load `<model_dir>/nearest.safetensors`; NotFoundError saying how to build it when there is none."""
    model_dir = Path(model_dir)
    path = model_dir / NEAREST_FILE
    if not path.is_file():
        raise NotFoundError(
            f"model {model_dir.name!r} has no nearest-training-slice index; build it with "
            f"`latentct nearest build --model {model_dir}`"
        )
    t, header = _read(path)
    rows = len(t["features"])
    if t["features"].dim() != 2 or any(len(t[name]) != rows for name in ("patient", "slice", "level")):
        raise ArtifactError(f"{path}: features, patient, slice and level disagree on the number of rows")
    if t["components"].shape != (t["mean"].shape[0], t["features"].shape[1]):
        raise ArtifactError(f"{path}: components {list(t['components'].shape)} do not map the features' space")
    return NearestIndex(
        features=t["features"].float(), mean=t["mean"].float(), components=t["components"].float(),
        patient=t["patient"].long(), slice=t["slice"].long(), level=t["level"].float(),
        held_out=torch.sort(t["held_out"].float()).values, header=header,
    )


def pca(features: torch.Tensor, dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean [F] and the top `dims` principal axes [F, dims] of features [N, F] (float64 eigendecomposition)."""
    if not 1 <= dims <= features.shape[1]:
        raise InvalidInputError(f"dims {dims} must be within 1..{features.shape[1]}")
    x = features.double()
    mean = x.mean(dim=0)
    centred = x - mean
    covariance = centred.T @ centred / max(len(x) - 1, 1)
    _, vectors = torch.linalg.eigh(covariance)  # ascending eigenvalues
    components = vectors[:, -dims:].flip(1)
    return mean.float(), components.float().contiguous()
