"""HU <-> [-1, 1] conversions and display windows, for numpy arrays and torch tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentct.core.errors import InvalidInputError
from latentct.core.hu import HU_RANGE, hu_to_unit, unit_to_hu, window_to_uint8


def test_paper_mapping_and_inverse_numpy() -> None:
    hu = np.array([-1000.0, 500.0, 2000.0, -3000.0, 5000.0], dtype=np.float32)
    unit = hu_to_unit(hu)
    np.testing.assert_allclose(unit, [-1.0, 0.0, 1.0, -1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(unit_to_hu(unit)[:3], hu[:3], atol=1e-3)
    assert HU_RANGE == (-1000.0, 2000.0)


def test_torch_tensors_stay_tensors() -> None:
    hu = torch.tensor([-1000.0, 0.0, 2000.0])
    unit = hu_to_unit(hu)
    assert isinstance(unit, torch.Tensor)
    torch.testing.assert_close(unit_to_hu(unit), hu)
    torch.testing.assert_close(unit, torch.tensor([-1.0, -1.0 / 3.0, 1.0]))


def test_window_and_bad_range() -> None:
    out = window_to_uint8(np.array([-1000.0, 40.0, 240.0]), width=400, level=40)
    assert out.dtype == np.uint8 and out.tolist() == [0, 128, 255]
    with pytest.raises(InvalidInputError, match="width"):
        window_to_uint8(np.zeros(2), width=0, level=0)
    with pytest.raises(InvalidInputError, match="hu_range"):
        hu_to_unit(np.zeros(2), hu_range=(100.0, -100.0))
