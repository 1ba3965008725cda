"""Checks of configuration values: one error text for "out of range" everywhere (the name, what is allowed, the value)."""

from __future__ import annotations

from latentct.core.errors import InvalidInputError


def check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False, note: str = "") -> None:
    """Refuse `value` outside low..high (or (low, high] with `low_open`): InvalidInputError naming all three.

    `note` says why the range is what it is, e.g. " (a distribution needs two)".
    """
    inside = low < value <= high if low_open else low <= value <= high
    if not inside:
        allowed = f"({low}, {high}]" if low_open else f"{low}..{high}"
        raise InvalidInputError(f"{name} must be in {allowed}{note}, got {value}")
