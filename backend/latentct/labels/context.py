"""A label's sign and context, checked: the sign against the term's positive sense, the context as stored JSON.

The context is what the annotator saw when labelling (display window, seeds, traversal extent and steps), so a
label can be reproduced. The window's text is checked by the API against the image windows (rendering owns those,
and labels may not import rendering); here it is only kept short and printable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from latentct.core.errors import InvalidInputError
from latentct.core.latents import MAX_SEED
from latentct.labels.vocabulary import Term

SIGNS = (1, -1)
MAX_CONTEXT_SEEDS = 16
MAX_CONTEXT_EXTENT = 30.0  # the image API's largest shift
MIN_CONTEXT_STEPS, MAX_CONTEXT_STEPS = 2, 64  # the traversal endpoint's steps
MAX_WINDOW_CHARS = 64
CONTEXT_FIELDS = ("window", "seeds", "extent", "steps")
CONTEXT_HELP = (
    f'{{"window": a display window, "seeds": 1..{MAX_CONTEXT_SEEDS} seeds in 0..{MAX_SEED}, '
    f'"extent": 0 < e <= {MAX_CONTEXT_EXTENT:g}, "steps": {MIN_CONTEXT_STEPS}..{MAX_CONTEXT_STEPS}}}'
)


def check_sign(sign: Any, term: Term) -> int | None:
    """+1 / -1 for a term with a positive sense, None (unknown) for any term; a sign on a term without one is refused."""
    if sign is None:
        return None  # optional: older clients send none, and "unknown" is its own category in agreement
    if isinstance(sign, bool) or sign not in SIGNS:
        raise InvalidInputError(f"sign {sign!r} is not allowed; allowed: 1, -1 or null (unknown)")
    if not term.has_sense:
        raise InvalidInputError(
            f"term {term.id!r} has no positive sense, so a label with it takes no sign; send sign null or leave it out"
        )
    return int(sign)


def context_json(context: Mapping[str, Any] | None) -> str | None:
    """The context checked field by field (InvalidInputError naming the value) as canonical JSON text, or None."""
    if context is None:
        return None
    if not isinstance(context, Mapping):
        raise InvalidInputError(f"context must be an object {CONTEXT_HELP}")
    unknown = sorted(set(context) - set(CONTEXT_FIELDS))
    missing = [name for name in CONTEXT_FIELDS if name not in context]
    if unknown or missing:
        raise InvalidInputError(f"context fields unknown {unknown} / missing {missing}; allowed: {CONTEXT_HELP}")
    checked = {
        "window": _window(context["window"]),
        "seeds": _seeds(context["seeds"]),
        "extent": _extent(context["extent"]),
        "steps": _steps(context["steps"]),
    }
    return json.dumps(checked, sort_keys=True, separators=(",", ":"))


def context_from_json(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _window(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_WINDOW_CHARS
        or not all(" " <= ch <= "~" for ch in value)
    ):
        raise InvalidInputError(f"context.window {value!r} is not a display window; allowed: {CONTEXT_HELP}")
    return value.strip()


def _seeds(value: Any) -> list[int]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CONTEXT_SEEDS:
        raise InvalidInputError(f"context.seeds must list 1..{MAX_CONTEXT_SEEDS} seeds; got {_short(value)}")
    for seed in value:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InvalidInputError(f"context.seeds: seed {seed!r} is not an integer in 0..{MAX_SEED}")
    return [int(seed) for seed in value]


def _extent(value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 < value <= MAX_CONTEXT_EXTENT:
        raise InvalidInputError(f"context.extent {value!r} is out of range; allowed: 0 < extent <= {MAX_CONTEXT_EXTENT:g}")
    return float(value)


def _steps(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_CONTEXT_STEPS <= value <= MAX_CONTEXT_STEPS:
        raise InvalidInputError(
            f"context.steps {value!r} is out of range; allowed: integers {MIN_CONTEXT_STEPS}..{MAX_CONTEXT_STEPS}"
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
