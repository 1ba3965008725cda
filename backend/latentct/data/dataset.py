"""The on-disk slice dataset shared by phantom and real data: writer (atomic, streaming), reader, torch Dataset.

A dataset is a directory holding
  slices.npy    float32 [N, H, W], HU clipped to hu_range and scaled to [-1, 1] (latentct.core.hu.hu_to_unit)
  factors.csv   one row per slice (phantom: patient_id + FACTOR_NAMES; real data: patient, series, z)
  dataset.json  source, hu_range, image_size, counts, the patient column and the train/test split by patient
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from latentct.core.errors import DatasetError, InvalidInputError
from latentct.core.fsutil import atomic_directory
from latentct.core.hu import HU_RANGE

FORMAT_NAME = "latentct-slices"
FORMAT_VERSION = 1
SLICES_FILE = "slices.npy"
FACTORS_FILE = "factors.csv"
META_FILE = "dataset.json"
SPLITS = ("train", "test", "all")


def check_image_size(size: int) -> int:
    """Dataset image sizes: a power of two between 16 and 512 px (what the nets accept)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 16 <= size <= 512 or size & (size - 1):
        raise InvalidInputError(f"size {size!r} must be a power of two between 16 and 512 px")
    return int(size)


def split_patients(patients: Sequence[str], test_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split patient ids (never slices) into train and test; at least one test patient when there are two or more
    patients and test_fraction > 0. Deterministic for a given seed and set of ids."""
    if not 0.0 <= float(test_fraction) < 1.0:
        raise InvalidInputError(f"test fraction {test_fraction!r} must be within [0, 1)")
    unique = sorted(set(patients))
    order = np.random.default_rng([int(seed), 11]).permutation(len(unique))
    n_test = round(test_fraction * len(unique))
    if test_fraction > 0 and len(unique) >= 2:
        n_test = min(max(n_test, 1), len(unique) - 1)
    test = sorted(unique[i] for i in order[:n_test])
    train = sorted(unique[i] for i in order[n_test:])
    return train, test


class DatasetWriter:
    """Streams slices into a new dataset directory built under a temporary name and renamed on `finish`.

    with DatasetWriter(out, image_size, columns) as w:
        w.append(slices_unit [n, H, W] float32 in [-1, 1], rows)   # as often as needed
        w.finish(meta)                                              # without it, nothing is left behind
    """

    def __init__(self, out_dir: Path | str, image_size: int, columns: Sequence[str], overwrite: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.image_size = int(image_size)
        self.columns = list(columns)
        self.overwrite = overwrite
        self.count = 0
        self.rows: list[dict[str, Any]] = []
        self._finished = False

    def __enter__(self) -> DatasetWriter:
        self._ctx = atomic_directory(self.out_dir, overwrite=self.overwrite)
        self.tmp = self._ctx.__enter__()
        self._raw = open(self.tmp / "slices.raw", "wb")
        return self

    def append(self, slices_unit: np.ndarray, rows: Sequence[Mapping[str, Any]]) -> None:
        arr = np.asarray(slices_unit, dtype=np.float32)
        shape = (self.image_size, self.image_size)
        if arr.ndim != 3 or arr.shape[1:] != shape:
            raise InvalidInputError(f"slices must be [n, {shape[0]}, {shape[1]}], got {list(arr.shape)}")
        if len(rows) != arr.shape[0]:
            raise InvalidInputError(f"{arr.shape[0]} slices but {len(rows)} factor rows")
        if not np.isfinite(arr).all() or arr.min(initial=0.0) < -1.0 or arr.max(initial=0.0) > 1.0:
            raise InvalidInputError("slices must be finite and within [-1, 1] (use latentct.core.hu.hu_to_unit)")
        self._raw.write(np.ascontiguousarray(arr).tobytes())
        self.rows.extend(dict(r) for r in rows)
        self.count += arr.shape[0]

    def finish(self, meta: Mapping[str, Any]) -> None:
        """Write slices.npy, factors.csv and dataset.json; the directory appears when the `with` block ends."""
        if self.count == 0:
            raise DatasetError("no slices to write: the dataset would be empty")
        self._raw.close()
        raw_path = self.tmp / "slices.raw"
        with open(self.tmp / SLICES_FILE, "wb") as fh:
            header = {"descr": "<f4", "fortran_order": False, "shape": (self.count, self.image_size, self.image_size)}
            np.lib.format.write_array_header_1_0(fh, header)
            with open(raw_path, "rb") as raw:
                shutil.copyfileobj(raw, fh, length=16 << 20)
        raw_path.unlink()
        with open(self.tmp / FACTORS_FILE, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="raise")
            writer.writeheader()
            for row in self.rows:
                writer.writerow({k: _csv_value(v) for k, v in row.items()})
        full_meta = _complete_meta(dict(meta), self.rows, self.image_size, self.columns)
        (self.tmp / META_FILE).write_text(json.dumps(full_meta, indent=2) + "\n", encoding="utf-8")
        self._finished = True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        if not self._raw.closed:
            self._raw.close()
        if exc_type is None and not self._finished:
            exc_type, exc = DatasetError, DatasetError("dataset writer closed without finish(): nothing written")
            self._ctx.__exit__(exc_type, exc, None)
            raise exc
        return self._ctx.__exit__(exc_type, exc, tb)


def _csv_value(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # shortest exact round-trip
    if isinstance(value, np.integer):
        return int(value)
    return value


def _complete_meta(meta: dict[str, Any], rows: list[dict[str, Any]], size: int, columns: list[str]) -> dict[str, Any]:
    patient_column = meta.get("patient_column", "patient")
    if patient_column not in columns:
        raise InvalidInputError(f"patient column {patient_column!r} is not among the factor columns {columns}")
    split = meta.get("split") or {}
    train = {str(p) for p in split.get("train", [])}
    test = {str(p) for p in split.get("test", [])}
    if train & test:
        raise InvalidInputError(f"patients in both train and test: {sorted(train & test)[:5]}")
    patients = [str(r[patient_column]) for r in rows]
    unknown = set(patients) - train - test
    if unknown:
        raise InvalidInputError(f"patients missing from the split: {sorted(unknown)[:5]}")
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "source": meta.get("source", "unknown"),
        "hu_range": list(meta.get("hu_range", HU_RANGE)),
        "image_size": size,
        "value_range": [-1.0, 1.0],
        "columns": columns,
        "patient_column": patient_column,
        "counts": {
            "slices": len(rows),
            "patients": len(set(patients)),
            "train_slices": sum(p in train for p in patients),
            "test_slices": sum(p in test for p in patients),
            "train_patients": len(train),
            "test_patients": len(test),
            **meta.get("counts", {}),
        },
        "split": {"train": sorted(train), "test": sorted(test)},
        **{k: v for k, v in meta.items() if k not in ("source", "hu_range", "split", "counts", "patient_column")},
    }


def write_dataset(
    out_dir: Path | str,
    slices_unit: np.ndarray,
    factor_rows: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write a whole in-memory dataset at once (slices [N, H, W] in [-1, 1]); atomic like DatasetWriter."""
    arr = np.asarray(slices_unit, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise InvalidInputError(f"slices must be [N, H, W] with H == W, got {list(arr.shape)}")
    columns: list[str] = list(meta.get("columns") or (factor_rows[0].keys() if factor_rows else []))
    with DatasetWriter(out_dir, arr.shape[1], columns, overwrite=overwrite) as writer:
        writer.append(arr, factor_rows)
        writer.finish(meta)
    return Path(out_dir)


# ---------------------------------------------------------------------------------------------------------------
# Reading


def read_dataset_meta(path: Path | str) -> dict[str, Any]:
    """dataset.json of a dataset directory; DatasetError naming the path when it is not one."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"dataset {str(path)!r} does not exist or is not a directory")
    meta_path = path / META_FILE
    missing = [n for n in (META_FILE, SLICES_FILE, FACTORS_FILE) if not (path / n).is_file()]
    if missing:
        raise DatasetError(
            f"{str(path)!r} is not a LatentCT dataset: missing {', '.join(missing)} "
            "(create one with `latentct data phantom` or `latentct data import`)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{str(meta_path)!r} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise DatasetError(f"{str(meta_path)!r} is not a {FORMAT_NAME} dataset description")
    if int(meta.get("version", 0)) > FORMAT_VERSION:
        raise DatasetError(f"{str(path)!r} has format version {meta.get('version')}; this LatentCT reads <= 1")
    return meta


def read_factors(path: Path | str) -> dict[str, np.ndarray]:
    """factors.csv as columns: numeric columns as float64 arrays, others as str arrays."""
    with open(Path(path) / FACTORS_FILE, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{str(path)!r}: factors.csv is empty")
        rows = list(reader)
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(header):
        values = [r[i] for r in rows]
        try:
            columns[name] = np.array([float(v) for v in values], dtype=np.float64)
        except ValueError:
            columns[name] = np.array(values, dtype=str)
    return columns


def _as_str_ids(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        return np.array([str(int(v)) for v in values])
    return values.astype(str)


class SliceDataset(Dataset):
    """A dataset directory as a torch Dataset of float32 tensors [1, H, W] in [-1, 1], memory-mapped.

    split: "train" | "test" | "all"; the split is by patient as recorded in dataset.json.
    """

    def __init__(self, path: Path | str, split: str = "train") -> None:
        if split not in SPLITS:
            raise InvalidInputError(f"split {split!r} must be one of {', '.join(SPLITS)}")
        self.path = Path(path)
        self.meta = read_dataset_meta(self.path)
        self.split = split
        try:
            self.slices = np.load(self.path / SLICES_FILE, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{str(self.path / SLICES_FILE)!r} cannot be read: {exc}") from None
        all_factors = read_factors(self.path)
        n = self.slices.shape[0]
        if self.slices.ndim != 3 or any(len(v) != n for v in all_factors.values()):
            raise DatasetError(f"{str(self.path)!r}: slices.npy and factors.csv disagree on the number of slices")
        self.image_size = int(self.slices.shape[-1])
        if split == "all":
            self.indices = np.arange(n)
        else:
            column = self.meta.get("patient_column", "patient")
            if column not in all_factors:
                raise DatasetError(f"{str(self.path)!r}: factors.csv has no patient column {column!r}")
            wanted = np.array(sorted(str(p) for p in self.meta["split"][split]))
            self.indices = np.flatnonzero(np.isin(_as_str_ids(all_factors[column]), wanted))
        self.factors: dict[str, np.ndarray] = {k: v[self.indices] for k, v in all_factors.items()}

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> torch.Tensor:
        index = int(self.indices[item])
        return torch.from_numpy(np.array(self.slices[index], dtype=np.float32, copy=True))[None]

    def factor_rows(self) -> Iterable[dict[str, Any]]:
        names = list(self.factors)
        for i in range(len(self)):
            yield {k: self.factors[k][i].item() for k in names}
