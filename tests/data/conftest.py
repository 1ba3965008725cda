"""Fixtures of the data tests: small phantom datasets and CT sources written the way real ones are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentct.data import phantom


@pytest.fixture(scope="session")
def phantom_volume() -> np.ndarray:
    """Six 32-px phantom slices of one patient from apex to abdomen, HU rounded to integers (as CT stores them)."""
    rng = phantom.patient_rng(5, 0)
    patient = phantom.sample_patient(rng)
    slices = [phantom.render_slice(patient, z, 32, rng) for z in np.linspace(0.1, 0.9, 6)]
    return np.round(np.stack(slices)).astype(np.float32)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "phantom"
    phantom.generate_dataset(out, patients=6, slices_per_patient=4, size=32, seed=2, progress=False, test_fraction=0.34)
    return out
