"""core.checks: one "out of range" error text, naming the value, what is allowed and the value given."""

from __future__ import annotations

import pytest

from latentct.core.checks import check_range
from latentct.core.errors import InvalidInputError
from latentct.discovery.evaluate.config import EvaluationConfig
from latentct.discovery.export import ExportConfig


def test_closed_and_half_open_ranges_accept_their_ends() -> None:
    check_range("seeds", 2, 2, 4096)
    check_range("seeds", 4096, 2, 4096)
    check_range("extent", 30, 0, 30, low_open=True)
    check_range("extent", 1e-9, 0, 30, low_open=True)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("seeds", 1, 2, 4096), {}, "seeds must be in 2..4096, got 1"),
    (("samples", 100_001, 16, 100_000), {}, "samples must be in 16..100000, got 100001"),
    (("extent", 0, 0, 30), {"low_open": True}, r"extent must be in \(0, 30\], got 0"),
    (("extent", 30.5, 0, 30), {"low_open": True}, r"extent must be in \(0, 30\], got 30.5"),
    (("random_sets", 1, 2, 64), {"note": " (a distribution needs two)"},
     r"random_sets must be in 2..64 \(a distribution needs two\), got 1"),
])
def test_values_outside_are_refused_with_name_range_and_value(args: tuple, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInputError, match=f"^{message}$"):
        check_range(*args, **kwargs)


def test_configs_use_it() -> None:
    with pytest.raises(InvalidInputError, match=r"^extent must be in \(0, 30\], got -1$"):
        EvaluationConfig(extent=-1).check()
    with pytest.raises(InvalidInputError, match=r"^fps must be in 1\.\.30, got 31$"):
        ExportConfig(fps=31).check()
