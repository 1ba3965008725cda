"""Hounsfield-unit conversions shared by every area: HU <-> the models' [-1, 1] range, and display windows."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

from latentct.core.errors import InvalidInputError

# The paper's preprocessing: HU clipped to [-1000, 2000], then mapped linearly onto [-1, 1].
HU_RANGE: tuple[float, float] = (-1000.0, 2000.0)

ArrayT = TypeVar("ArrayT")  # a numpy array or a torch tensor; both are handled by duck typing


def _checked_range(hu_range: tuple[float, float] | list[float]) -> tuple[float, float]:
    lo, hi = float(hu_range[0]), float(hu_range[1])
    if not hi > lo:
        raise InvalidInputError(f"hu_range {list(hu_range)!r} must be [low, high] with high > low")
    return lo, hi


def _clip(values: Any, lo: float, hi: float) -> Any:
    if isinstance(values, np.ndarray) or np.isscalar(values):
        return np.clip(values, lo, hi)
    return values.clamp(lo, hi)  # torch.Tensor


def hu_to_unit(hu: ArrayT, hu_range: tuple[float, float] | list[float] = HU_RANGE) -> ArrayT:
    """HU -> [-1, 1]: clip to `hu_range`, then x = (HU - lo) / (hi - lo) * 2 - 1. Keeps numpy / torch type."""
    lo, hi = _checked_range(hu_range)
    clipped = _clip(hu, lo, hi)
    return (clipped - lo) * (2.0 / (hi - lo)) - 1.0


def unit_to_hu(unit: ArrayT, hu_range: tuple[float, float] | list[float] = HU_RANGE) -> ArrayT:
    """[-1, 1] -> HU, the inverse of `hu_to_unit` (values outside [-1, 1] are clipped first)."""
    lo, hi = _checked_range(hu_range)
    clipped = _clip(unit, -1.0, 1.0)
    return (clipped + 1.0) * ((hi - lo) / 2.0) + lo


def window_to_uint8(hu: Any, width: float, level: float) -> np.ndarray:
    """Map HU through a display window (e.g. lung W1500 L-600, mediastinum W400 L40) to uint8 grey values."""
    if not width > 0:
        raise InvalidInputError(f"window width {width!r} must be > 0 HU")
    if not isinstance(hu, np.ndarray):
        hu = hu.detach().cpu().numpy() if hasattr(hu, "detach") else np.asarray(hu)
    lo = level - width / 2.0
    scaled = (np.asarray(hu, dtype=np.float32) - lo) * (255.0 / width)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
