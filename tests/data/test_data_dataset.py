"""The dataset format: write/read round trip, split by patient, memory-mapping, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from latentct.core.errors import DatasetError, InvalidInputError
from latentct.data.dataset import SliceDataset, read_dataset_meta, split_patients, write_dataset
from latentct.data.phantom import FACTOR_NAMES


def test_roundtrip_with_the_writer(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    slices = rng.uniform(-1, 1, (5, 16, 16)).astype(np.float32)
    rows = [{"patient": f"p{i // 2}", "series": "s", "z": float(i)} for i in range(5)]
    meta = {"source": "test", "patient_column": "patient", "split": {"train": ["p0", "p2"], "test": ["p1"]}}
    out = write_dataset(tmp_path / "ds", slices, rows, meta)
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "factors.csv", "slices.npy"]
    everything = SliceDataset(out, split="all")
    assert len(everything) == 5 and everything.image_size == 16
    item = everything[3]
    assert item.dtype == torch.float32 and item.shape == (1, 16, 16)
    assert torch.equal(item[0], torch.from_numpy(slices[3]))
    test = SliceDataset(out, split="test")
    assert test.indices.tolist() == [2, 3] and test.factors["patient"].tolist() == ["p1", "p1"]
    assert test.factors["z"].tolist() == [2.0, 3.0]
    meta_read = read_dataset_meta(out)
    assert meta_read["counts"]["slices"] == 5 and meta_read["hu_range"] == [-1000.0, 2000.0]


def test_phantom_dataset_split_is_by_patient_and_memory_mapped(small_dataset: Path) -> None:
    train, test = SliceDataset(small_dataset, "train"), SliceDataset(small_dataset, "test")
    assert isinstance(train.slices, np.memmap)  # not read into memory
    assert set(train.factors["patient_id"]).isdisjoint(set(test.factors["patient_id"]))
    assert len(train) + len(test) == 24 and len(test) >= 4
    assert set(FACTOR_NAMES) <= set(train.factors)
    meta = json.loads((small_dataset / "dataset.json").read_text())
    assert meta["source"] == "phantom" and meta["image_size"] == 32
    x = torch.stack([train[i] for i in range(len(train))])
    assert x.min() >= -1 and x.max() <= 1


def test_split_patients_rules() -> None:
    train, test = split_patients([str(i) for i in range(10)], 0.2, seed=1)
    assert len(test) == 2 and not set(train) & set(test) and len(train) + len(test) == 10
    assert split_patients(["a", "a", "b"], 0.1, 0) in ((["a"], ["b"]), (["b"], ["a"]))
    assert split_patients(["a"], 0.5, 0) == (["a"], [])
    with pytest.raises(InvalidInputError, match="test fraction"):
        split_patients(["a"], 1.0, 0)


def test_not_a_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        read_dataset_meta(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"not a LatentCT dataset: missing dataset\.json"):
        SliceDataset(tmp_path / "empty")
    with pytest.raises(InvalidInputError, match="split"):
        SliceDataset(tmp_path / "empty", split="validation")


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="within \\[-1, 1\\]"):
        write_dataset(tmp_path / "ds", np.full((2, 16, 16), 3.0, np.float32), [{"patient": "a"}] * 2, {})
    assert list(tmp_path.iterdir()) == []
