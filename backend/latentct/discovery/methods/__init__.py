"""The discovery methods, registered by name: a method is one function from a context (model, request, device) to
directions, plus a line of help and the number of directions it can give. `latentct discover --method NAME` and
the API look methods up here, so a new method is one file that calls `register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from latentct.artifacts import LoadedModel
from latentct.discovery.closed_form import ClosedFormResult


@dataclass
class MethodContext:
    """What a method gets: the loaded model, the request (latentct.discovery.discover.DiscoveryRequest), where to run."""

    model: LoadedModel
    request: Any
    device: torch.device
    progress: bool = True


@dataclass
class MethodOutput:
    result: ClosedFormResult
    extra: dict[str, Any] = field(default_factory=dict)  # more top-level fields for the set's json


@dataclass(frozen=True)
class Method:
    name: str
    help: str
    run: Callable[[MethodContext], MethodOutput]
    max_count: Callable[[int], int]  # latent_dim -> the most directions it gives
    needs_probe: bool = False  # the supervised reference reads factors through the phantom probe
    default_count: Callable[[int], int] | None = None  # latent_dim -> K when -k is not given (None: the latent size)


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def _load_all() -> None:
    from latentct.discovery.methods import (  # noqa: F401  (they register)
        builtin,
        ica_method,
        jacobian_method,
        supervised_method,
    )


def method_names() -> tuple[str, ...]:
    _load_all()
    return tuple(METHODS)


def get_method(name: str) -> Method:
    from latentct.core.errors import InvalidInputError

    _load_all()
    if name not in METHODS:
        raise InvalidInputError(f"method {name!r} is unknown; allowed: {', '.join(METHODS)}")
    return METHODS[name]
