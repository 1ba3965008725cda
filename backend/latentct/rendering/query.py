"""An image request read once, from a query string, FastAPI's parameters or a live-socket message, into one typed value."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from latentct.core.errors import InvalidInputError, LatentCTError
from latentct.core.latents import check_seed
from latentct.rendering.encoding import MAX_SCALE
from latentct.rendering.latents import collect_shifts, parse_shift, shifts_from_mapping
from latentct.rendering.windows import FULL, Window, parse_window

FULL_WINDOW = Window(FULL)

# The fast path reads only what is plainly well-formed; anything else goes to the route, which names the problem.
_DIGITS = re.compile(r"[0-9]{1,10}")
_SET_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SINGLE = frozenset({"seed", "set", "window", "scale"})
MAX_SHIFT_PARAMS = 64
MAX_SHIFT_CHARS, MAX_WINDOW_CHARS = 4096, 64  # longer values are left to the route


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """What to render: z from `seed` plus `shifts` (direction index -> value) of set `set_id`, through `window`,
    upscaled `scale` times. Valid by construction when built by `image_query`; not yet resolved against a model."""

    seed: int = 0
    set_id: str | None = None
    shifts: dict[int, float] = field(default_factory=dict)
    window: Window = FULL_WINDOW
    scale: int = 1

    def key(self) -> dict[str, Any]:
        """Normalised form for ETags: equal queries (e.g. '0:1' and '0:1.0', shifts in any order) give equal keys."""
        return {
            "seed": self.seed,
            "set": self.set_id,
            "shift": [[k, v] for k, v in sorted(self.shifts.items()) if v != 0.0],
            "window": self.window.key,
            "scale": self.scale,
        }


@dataclass(frozen=True, slots=True)
class TraversalQuery:
    """A traversal's extras: frames along direction `direction` from -extent to +extent, `steps` of them."""

    direction: int
    extent: float
    steps: int

    def key(self) -> dict[str, Any]:
        return {"direction": self.direction, "extent": self.extent, "steps": self.steps}


def check_shifts_have_set(shifts: Mapping[int, float], set_id: str | None) -> None:
    if shifts and set_id is None:
        raise InvalidInputError("`set` is required when shifts are given: shifts are indices into a direction set")


def check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise InvalidInputError(f"scale {scale!r} must be an integer in 1..{MAX_SCALE}")
    return scale


def image_query(
    seed: int = 0, set_id: str | None = None, shifts: Iterable[tuple[int, float]] = (), window: str = FULL, scale: int = 1
) -> ImageQuery:
    """The one normalisation every front end ends in: raises InvalidInputError naming the first bad value."""
    parsed = collect_shifts(shifts)
    check_shifts_have_set(parsed, set_id)
    return ImageQuery(check_seed(seed), set_id, parsed, parse_window(window), check_scale(scale))


def query_from_params(seed: int, set_id: str | None, shift: Iterable[str], window: str, scale: int) -> ImageQuery:
    """The query parameters of the image routes, with `shift` the repeated `k:v` texts."""
    return image_query(seed, set_id, (parse_shift(text) for text in shift), window, scale)


def query_from_message(seed: int, set_id: str | None, shifts: Mapping[str, float], window: str, scale: int) -> ImageQuery:
    """The JSON form (the live socket's messages): `shifts` as {"k": v}."""
    return image_query(seed, set_id, shifts_from_mapping(shifts).items(), window, scale)


def traversal_query(direction: int, extent: float, steps: int) -> TraversalQuery:
    """Ranges are the route's to check (FastAPI's 422s); -0.0 is folded so equal extents key equally."""
    return TraversalQuery(direction=direction, extent=extent + 0.0, steps=steps)


def strict_image_query(query_string: bytes) -> ImageQuery | None:
    """The raw query string as the route would read it, or None where it is anything but plainly well-formed (the
    route then answers, with the contract's status and message). No pydantic: this is the fast path's reader."""
    fields = _strict_fields(query_string)
    if fields is None:
        return None
    single, shifts = fields
    seed, scale, set_id = single.get("seed", "0"), single.get("scale", "1"), single.get("set")
    if not (_DIGITS.fullmatch(seed) and _DIGITS.fullmatch(scale)) or (set_id is not None and not _SET_ID.fullmatch(set_id)):
        return None
    if len(single.get("window", "")) > MAX_WINDOW_CHARS:
        return None
    try:
        return query_from_params(int(seed), set_id, shifts, single.get("window", FULL), int(scale))
    except LatentCTError:
        return None


def _strict_fields(query_string: bytes) -> tuple[dict[str, str], list[str]] | None:
    """ASCII `key=value` pairs: the single-valued parameters once each, `shift` up to 64 times; None otherwise."""
    try:
        pairs = parse_qsl(query_string.decode("ascii"), keep_blank_values=True, strict_parsing=bool(query_string))
    except (UnicodeDecodeError, ValueError):
        return None
    single: dict[str, str] = {}
    shifts: list[str] = []
    for key, value in pairs:
        if key == "shift" and len(shifts) < MAX_SHIFT_PARAMS and len(value) <= MAX_SHIFT_CHARS:
            shifts.append(value)
        elif key in _SINGLE and key not in single:
            single[key] = value
        else:
            return None
    return single, shifts
