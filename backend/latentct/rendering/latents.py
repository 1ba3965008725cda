"""Latent vectors as the REST contract defines them: z from a seed, additive direction shifts, traversal frames.

All latent arithmetic runs on the CPU in float32 with elementwise operations only (no BLAS reductions), so a seed and
a set of shifts give bit-identical latents on every machine; only the finished batch travels to the device.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import torch

from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.rendering.numbers import DECIMAL_HELP, INDEX_HELP, ascii_decimal, ascii_index

MAX_SHIFT = 30.0  # abs(v) of a shift and the largest traversal extent, in units of a unit-length direction
MAX_INDEX_DIGITS = 9  # a direction index; no set comes near, and int() stays trivially cheap
MAX_LATENT_ABS = 1000.0  # an explicit latent's entries; N(0, I) samples stay far below, float32 overflow far above


def check_shift_value(value: float, what: str) -> float:
    """A shift must be finite with abs(value) <= 30; -0.0 is folded into 0.0 so equal shifts normalise equally."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{what}: value {value!r} must be a number")
    value = float(value)
    if not math.isfinite(value) or abs(value) > MAX_SHIFT:
        raise InvalidInputError(f"{what}: value {value!r} must be finite with abs(value) <= {MAX_SHIFT:g}")
    return value + 0.0


def parse_direction_index(text: str, what: str) -> int:
    """A direction index as given in a request ('3'): ASCII digits only (numbers.py says why), at most 9 of them."""
    index = ascii_index(text, max_digits=MAX_INDEX_DIGITS)
    if index is None:
        raise InvalidInputError(f"{what}: direction index {text!r} must be {INDEX_HELP}, at most {MAX_INDEX_DIGITS} digits")
    return index


def parse_shift(text: str) -> tuple[int, float]:
    """'k:v' -> (k, v), e.g. '3:-1.5'; k a direction index, v finite with abs(v) <= 30."""
    what = f"shift {text!r}"
    index_text, sep, value_text = text.partition(":")
    if not sep:
        raise InvalidInputError(f"{what} must have the form k:v (direction index, colon, value), e.g. 3:-1.5")
    index = parse_direction_index(index_text, what)
    value = ascii_decimal(value_text)
    if value is None:
        raise InvalidInputError(f"{what}: value {value_text!r} is not a number; it must be {DECIMAL_HELP}")
    return index, check_shift_value(value, what)


def collect_shifts(pairs: Iterable[tuple[int, float]]) -> dict[int, float]:
    """Shifts by direction index; a direction given twice is an error rather than a silent sum or override."""
    shifts: dict[int, float] = {}
    for index, value in pairs:
        if index in shifts:
            raise InvalidInputError(f"direction {index} is shifted twice; give each direction at most once")
        shifts[index] = value
    return shifts


def shifts_from_mapping(mapping: Mapping[str, float]) -> dict[int, float]:
    """The JSON form {"k": v} of the render body and the live socket -> {k: v}, validated."""
    return collect_shifts(
        (parse_direction_index(str(key), f"shift {key!r}"), check_shift_value(value, f"shift {key!r}"))
        for key, value in mapping.items()
    )


def check_direction_index(index: int, count: int, set_id: str) -> int:
    """An index beyond the set is an unknown direction (404), not a malformed value."""
    if not 0 <= index < count:
        raise NotFoundError(f"direction set {set_id!r} has no direction {index}; it has directions 0..{count - 1}")
    return index


def apply_shifts(latent: torch.Tensor, directions: torch.Tensor, shifts: Mapping[int, float]) -> torch.Tensor:
    """z' = z + sum_k v_k d_k for z (latent_dim,) and directions (K, latent_dim); added in ascending k, elementwise."""
    shifted = latent.clone()
    for index in sorted(shifts):
        value = shifts[index]
        if value != 0.0:  # adding 0 * d_k is exact anyway; skipping it keeps normalised queries and bytes aligned
            shifted += torch.tensor(value, dtype=torch.float32) * directions[index]
    return shifted


def traversal_values(extent: float, steps: int) -> list[float]:
    """`steps` shift values evenly from -extent to +extent (both included)."""
    if steps < 2:
        raise InvalidInputError(f"steps {steps!r} must be at least 2")
    return [-extent + 2.0 * extent * i / (steps - 1) for i in range(steps)]


def traversal_latents(base: torch.Tensor, direction: torch.Tensor, values: Sequence[float]) -> torch.Tensor:
    """Frames z_i = base + t_i * d, (steps, latent_dim) float32, elementwise as in `apply_shifts`."""
    t = torch.tensor(list(values), dtype=torch.float32)[:, None]  # (N, 1)
    return base[None, :] + t * direction[None, :]  # (N, D)


def latent_from_values(values: Sequence[float], latent_dim: int) -> torch.Tensor:
    """An explicit latent: exactly latent_dim finite numbers with abs(value) <= 1000 -> float32 (latent_dim,)."""
    if len(values) != latent_dim:
        raise InvalidInputError(f"latent has {len(values)} values; this model needs exactly latent_dim = {latent_dim}")
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"latent[{i}] = {value!r} must be a number")
        if not math.isfinite(value) or abs(value) > MAX_LATENT_ABS:
            raise InvalidInputError(f"latent[{i}] = {value!r} must be finite with abs(value) <= {MAX_LATENT_ABS:g}")
    return torch.tensor([float(v) for v in values], dtype=torch.float32)
