"""Shared fixtures: a tiny phantom dataset (32 px) and a tiny probe trained on it, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentct.artifacts.probe import save_probe
from latentct.data.phantom import FACTOR_NAMES, generate_dataset
from latentct.training.data import open_split
from latentct.training.probe import ProbeConfig, fit_probe
from tests.support.cli import run_cli  # noqa: F401  (imported by the training tests from here)

TINY_SIZE = 32


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 phantom patients x 8 slices at 32 px: 40-ish training slices, one or two test patients."""
    path = tmp_path_factory.mktemp("data") / "phantom"
    return generate_dataset(path, patients=6, slices_per_patient=8, size=TINY_SIZE, seed=5, progress=False)


@pytest.fixture(scope="session")
def tiny_probe(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    train, test = open_split(tiny_data, "train"), open_split(tiny_data, "test")
    names = list(FACTOR_NAMES)
    config = ProbeConfig(epochs=2, batch_size=16, width=4, feature_dim=16, device="cpu")
    net, meta = fit_probe(train.all_images(), train.factor_matrix(names), test.all_images(), test.factor_matrix(names), names,
                          config, progress=False)
    path = tmp_path_factory.mktemp("probe") / "probe"
    save_probe(path, net, meta)
    return path


def tiny_options(probe: Path | str = "none", **extra: object) -> dict[str, object]:
    """Overrides for a seconds-long run on the tiny dataset."""
    return {"epochs": 1, "batch_size": 8, "device": "cpu", "log_every_steps": 2, "sample_count": 4, "quality_samples": 16,
            "probe_dir": str(probe), "checkpoint_min_interval_s": 0.0, **extra}


