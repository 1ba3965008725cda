"""Training data access: open a LatentCT slice dataset with one clear error, and cut it into seeded, shardable batches."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentct.core.errors import DatasetError, InvalidInputError, LatentCTError


@dataclass
class TrainingData:
    """One split of a dataset: the torch Dataset (items float32 [1, H, W] in [-1, 1]), its factors and dataset.json."""

    path: Path
    split: str
    dataset: Any  # latentct.data.dataset.SliceDataset
    meta: dict[str, Any]

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def image_size(self) -> int:
        return int(self.dataset[0].shape[-1])

    @property
    def factors(self) -> dict[str, np.ndarray]:
        return dict(getattr(self.dataset, "factors", {}) or {})

    def images(self, indices: list[int] | np.ndarray) -> torch.Tensor:
        """The items at `indices` as float32 [B, 1, H, W] (one fancy-indexed read of the memory map when possible)."""
        slices, rows = getattr(self.dataset, "slices", None), getattr(self.dataset, "indices", None)
        if slices is not None and rows is not None:
            batch = np.asarray(slices[np.asarray(rows)[np.asarray(indices, dtype=np.int64)]], dtype=np.float32)
            return torch.from_numpy(batch)[:, None]
        return torch.stack([torch.as_tensor(self.dataset[int(i)]) for i in indices]).to(torch.float32)

    def all_images(self, limit: int | None = None) -> torch.Tensor:
        count = len(self) if limit is None else min(limit, len(self))
        return self.images(list(range(count)))

    def factor_matrix(self, names: list[str] | tuple[str, ...]) -> np.ndarray | None:
        """float64 [N, F] in the order of `names`, or None when the dataset lacks one of them (real data)."""
        factors = self.factors
        if not all(name in factors for name in names):
            return None
        return np.stack([np.asarray(factors[name], dtype=np.float64) for name in names], axis=1)


def open_split(path: Path | str, split: str = "train") -> TrainingData:
    """Open `split` of the dataset at `path`; anything that is not a LatentCT dataset raises DatasetError naming it."""
    from latentct.data.dataset import SliceDataset, read_dataset_meta

    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"data directory {str(path)!r} does not exist")
    if not (path / "dataset.json").is_file():
        raise DatasetError(f"{str(path)!r} is not a LatentCT dataset (no dataset.json; make one with `latentct data phantom`)")
    try:
        meta = read_dataset_meta(path)
        dataset = SliceDataset(path, split=split)
    except LatentCTError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{str(path)!r} is not a readable LatentCT dataset: {exc}") from None
    if len(dataset) == 0:
        raise DatasetError(f"dataset {str(path)!r} has no slices in its {split!r} split")
    return TrainingData(path=path, split=split, dataset=dataset, meta=dict(meta))


def epoch_batches(
    count: int, batch_size: int, *, epoch: int, seed: int, rank: int = 0, world_size: int = 1
) -> list[list[int]]:
    """This rank's batches of one epoch: a permutation seeded by (seed, epoch), dealt round-robin to the ranks.

    Like DistributedSampler(drop_last=True): every rank gets the same number of full batches, so replicas step
    together. Deterministic, so a run resumed mid-epoch can skip exactly the batches it already saw.
    """
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
    per_rank = count // world_size
    mine = order[rank : per_rank * world_size : world_size]
    full = len(mine) // batch_size
    return [mine[b * batch_size : (b + 1) * batch_size] for b in range(full)]


def batches_per_epoch(count: int, batch_size: int, world_size: int = 1) -> int:
    return (count // world_size) // batch_size


def iterate_batches(data: TrainingData, batches: list[list[int]], device: torch.device) -> Iterator[torch.Tensor]:
    for indices in batches:
        yield data.images(sorted(indices)).to(device, non_blocking=True)


def check_batch_size(count: int, batch_size: int, world_size: int, what: str = "training") -> None:
    if batches_per_epoch(count, batch_size, world_size) < 1:
        need = math.ceil(batch_size * world_size)
        raise InvalidInputError(
            f"batch_size {batch_size}: the {what} split has {count} slices, "
            f"fewer than one batch of {batch_size} x {world_size} process(es) = {need}"
        )
