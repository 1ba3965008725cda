"""Dependencies: what the lifespan put in app.state, the served model of a path, and the common image parameters.

Every dependency is `async def` although none awaits: FastAPI runs plain `def` dependencies in its thread pool, a
thread hop per dependency per request for what is a dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import torch
from fastapi import Depends, Path, Query
from fastapi.requests import HTTPConnection

from latentct.api.caching import ResponseCache
from latentct.config import Settings
from latentct.errors import InvalidInputError
from latentct.rendering.admission import RenderAdmission
from latentct.rendering.encoding import MAX_SCALE
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.latents import (
    MAX_SEED,
    MAX_SHIFT,
    apply_shifts,
    check_direction_index,
    collect_shifts,
    latent_from_seed,
    parse_shift,
)
from latentct.rendering.registry import ModelRegistry, ServedDirectionSet, ServedModel
from latentct.rendering.windows import WINDOW_HELP, Window, parse_window


def registry_of(connection: HTTPConnection) -> ModelRegistry:
    registry: ModelRegistry = connection.app.state.registry
    return registry


def engine_of(connection: HTTPConnection) -> InferenceEngine:
    engine: InferenceEngine = connection.app.state.engine
    return engine


def admission_of(connection: HTTPConnection) -> RenderAdmission:
    admission: RenderAdmission = connection.app.state.admission
    return admission


async def get_admission(connection: HTTPConnection) -> RenderAdmission:
    return admission_of(connection)


async def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


async def get_registry(connection: HTTPConnection) -> ModelRegistry:
    return registry_of(connection)


async def get_engine(connection: HTTPConnection) -> InferenceEngine:
    return engine_of(connection)


async def get_response_cache(connection: HTTPConnection) -> ResponseCache:
    cache: ResponseCache = connection.app.state.response_cache
    return cache


SettingsDep = Annotated[Settings, Depends(get_settings)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
EngineDep = Annotated[InferenceEngine, Depends(get_engine)]
CacheDep = Annotated[ResponseCache, Depends(get_response_cache)]
AdmissionDep = Annotated[RenderAdmission, Depends(get_admission)]

ModelId = Annotated[str, Path(description="model id (a folder of the models dir)", max_length=64)]


async def served_model(model: ModelId, registry: RegistryDep) -> ServedModel:
    return registry.get(model)


ModelDep = Annotated[ServedModel, Depends(served_model)]


@dataclass(frozen=True)
class ImageParams:
    """The common query of the image endpoints, parsed but not yet resolved against a model."""

    seed: int
    set_id: str | None
    shifts: dict[int, float] = field(default_factory=dict)
    window: Window = field(default_factory=lambda: Window("full"))
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


def check_shifts_have_set(shifts: dict[int, float], set_id: str | None) -> None:
    if shifts and set_id is None:
        raise InvalidInputError("`set` is required when shifts are given: shifts are indices into a direction set")


async def image_params(
    seed: Annotated[int, Query(ge=0, le=MAX_SEED, description=f"0..{MAX_SEED}; z = torch.randn(latent_dim, seeded)")] = 0,
    set_id: Annotated[
        str | None, Query(alias="set", max_length=64, description="direction set id (required with shift or direction)")
    ] = None,
    shift: Annotated[
        list[str] | None,
        Query(
            max_length=4096,
            description=f"repeatable `k:v`: add v * d_k; k a direction index of the set, v finite, abs(v) <= {MAX_SHIFT:g}",
        ),
    ] = None,
    window: Annotated[str, Query(max_length=64, description=WINDOW_HELP)] = "full",
    scale: Annotated[int, Query(ge=1, le=MAX_SCALE, description=f"nearest-neighbour upscaling, 1..{MAX_SCALE}")] = 1,
) -> ImageParams:
    shifts = collect_shifts(parse_shift(text) for text in shift or [])
    check_shifts_have_set(shifts, set_id)
    return ImageParams(seed=seed, set_id=set_id, shifts=shifts, window=parse_window(window), scale=scale)


ImageParamsDep = Annotated[ImageParams, Depends(image_params)]


def resolve_set(model: ServedModel, set_id: str | None, shifts: dict[int, float]) -> ServedDirectionSet | None:
    """The direction set a request names (None if none), with every shifted index checked against it."""
    if set_id is None:
        check_shifts_have_set(shifts, set_id)
        return None
    direction_set = model.direction_set(set_id)
    for index in shifts:
        check_direction_index(index, direction_set.count, direction_set.id)
    return direction_set


def shifted_latent(
    model: ServedModel, seed: int, direction_set: ServedDirectionSet | None, shifts: dict[int, float]
) -> torch.Tensor:
    """z from the seed plus the shifts: (latent_dim,) float32 CPU."""
    latent = latent_from_seed(seed, model.latent_dim)
    if direction_set is None or not shifts:
        return latent
    return apply_shifts(latent, direction_set.directions, shifts)


def etag_parts(
    model: ServedModel, direction_set: ServedDirectionSet | None, endpoint: str, query: dict[str, Any]
) -> dict[str, Any]:
    return {
        "endpoint": endpoint,
        "model": model.id,
        "generator_checksum": model.generator_checksum,
        "set_checksum": direction_set.checksum if direction_set is not None else None,
        "backend": model.backend_key,
        "query": query,
    }
