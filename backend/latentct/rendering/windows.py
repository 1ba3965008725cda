"""Display windows in HU: parse `full`, a preset or `W,L`, and turn generator output in [-1, 1] into 8-bit grey."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from latentct.core.errors import InvalidInputError
from latentct.core.hu import unit_to_hu, window_to_uint8
from latentct.rendering.numbers import DECIMAL_HELP, ascii_decimal

# (width, level) in HU, as the contract names them
PRESETS: dict[str, tuple[float, float]] = {"lung": (1500.0, -600.0), "mediastinum": (350.0, 50.0), "bone": (2000.0, 500.0)}
FULL = "full"
MIN_WIDTH_HU, MAX_WIDTH_HU = 1.0, 10_000.0
MAX_ABS_LEVEL_HU = 10_000.0
WINDOW_HELP = (
    "display window: 'full' (the model's hu_range, linearly), 'lung' (W1500 L-600), 'mediastinum' (W350 L50), "
    f"'bone' (W2000 L500), or 'W,L' in HU with {MIN_WIDTH_HU:g} <= W <= {MAX_WIDTH_HU:g} and abs(L) <= {MAX_ABS_LEVEL_HU:g}"
)


@dataclass(frozen=True)
class Window:
    """A display window; `width_hu`/`level_hu` are None for `full`, which depends on the model's hu_range."""

    name: str  # "full", a preset name, or "custom"
    width_hu: float | None = None
    level_hu: float | None = None

    @property
    def key(self) -> str:
        """Normalised text for cache keys: equal windows give equal keys ('1500,-600' and '1500.0,-600' alike)."""
        if self.name != "custom":
            return self.name
        return f"{self.width_hu!r},{self.level_hu!r}"

    def width_level(self, hu_range: tuple[float, float]) -> tuple[float, float]:
        if self.width_hu is None or self.level_hu is None:  # full: lo -> 0, hi -> 255
            lo, hi = hu_range
            return hi - lo, (hi + lo) / 2.0
        return self.width_hu, self.level_hu


def _number(text: str, what: str, original: str) -> float:
    value = ascii_decimal(text)
    if value is None:
        raise InvalidInputError(
            f"window {original!r}: {what} {text.strip()!r} is not a number: it must be {DECIMAL_HELP}; {WINDOW_HELP}"
        )
    if not math.isfinite(value):
        raise InvalidInputError(f"window {original!r}: {what} must be finite; {WINDOW_HELP}")
    return value + 0.0


def parse_window(text: str) -> Window:
    """'full' | 'lung' | 'mediastinum' | 'bone' | 'W,L' (HU) -> Window; anything else raises naming the value."""
    name = text.strip().lower()
    if name == FULL:
        return Window(FULL)
    if name in PRESETS:
        width, level = PRESETS[name]
        return Window(name, width, level)
    parts = name.split(",")
    if len(parts) != 2:
        raise InvalidInputError(f"window {text!r} is not known; {WINDOW_HELP}")
    width = _number(parts[0], "width W", text)
    level = _number(parts[1], "level L", text)
    if not MIN_WIDTH_HU <= width <= MAX_WIDTH_HU:
        raise InvalidInputError(f"window {text!r}: width {width:g} HU is out of range; {WINDOW_HELP}")
    if abs(level) > MAX_ABS_LEVEL_HU:
        raise InvalidInputError(f"window {text!r}: level {level:g} HU is out of range; {WINDOW_HELP}")
    return Window("custom", width, level)


def unit_to_grey(images: np.ndarray, hu_range: tuple[float, float], window: Window) -> np.ndarray:
    """Generator output in [-1, 1] (any shape, float32) -> HU -> window -> uint8 of the same shape."""
    width, level = window.width_level(hu_range)
    hu = unit_to_hu(np.asarray(images, dtype=np.float32), hu_range)
    return window_to_uint8(hu, width, level)
