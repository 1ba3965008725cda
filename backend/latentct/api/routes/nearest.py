"""Nearest training slice endpoints: which training slice a generated image is closest to, and that slice as a PNG.

The query is image.png's (seed, set, shift; window and scale for the PNG), read by the same dependency. The image is
rendered by the inference engine under a ticket of the render budget, embedded by the phantom probe beside the served
models and searched in the model's index (`latentct nearest build`); without an index the answer is 404 saying how to
build one. Research only, not for clinical use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from latentct.api.caching import make_etag
from latentct.api.deps import AdmissionDep, CacheDep, EngineDep, ImageParamsDep, ModelDep, etag_parts
from latentct.api.routes.images import cached_response
from latentct.api.schemas import RenderRequest
from latentct.artifacts.nearest import NearestIndex
from latentct.artifacts.probe import Probe
from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.rendering.admission import RenderAdmission
from latentct.rendering.encoding import png_bytes, upscale
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.latents import apply_shifts, latent_from_values, shifts_from_mapping
from latentct.rendering.nearest import (
    NEAREST_INDEXES,
    NearestMatch,
    check_probe,
    describe_index,
    find_nearest,
    served_probe,
    training_slice,
)
from latentct.rendering.pipeline import frame_pixels, resolve_set, shifted_latent
from latentct.rendering.registry import ServedModel
from latentct.rendering.windows import unit_to_grey

router = APIRouter(tags=["nearest"])

MAX_K = 10
NEAREST_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown model, set or direction, or the model has no nearest index (build it)"},
    422: {"description": "a parameter is out of range or malformed"},
    503: {"description": "overloaded or warming up (Retry-After)"},
}
PNG_RESPONSES = {**NEAREST_RESPONSES, 200: {"content": {"image/png": {}}, "description": "8-bit greyscale PNG"}}
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description=f"how many nearest training slices to list, 1..{MAX_K}")]


def _index_and_probe(request: Request, model: ServedModel) -> tuple[NearestIndex, Probe]:
    models_dir = Path(request.app.state.settings.models_dir)
    index = NEAREST_INDEXES.get(models_dir / model.id)
    probe = served_probe(models_dir)
    if probe is None:
        raise NotFoundError("no phantom probe is served beside the models (models/_phantom-probe), so generated images "
                            "cannot be compared with training slices")
    check_probe(index, probe)
    return index, probe


async def _matches(request: Request, model: ServedModel, latent: torch.Tensor, engine: InferenceEngine,
                   admission: RenderAdmission, k: int) -> tuple[NearestIndex, list[NearestMatch]]:
    """Render the latent (one frame of the budget), then embed and search it on the engine's worker."""
    index, probe = _index_and_probe(request, model)
    ticket = admission.admit(frame_pixels(model, 1))
    try:
        frames = await engine.generate(model, latent[None])
        matches = await engine.call(lambda: find_nearest(index, probe, frames, min(k, len(index)))[0])
    finally:
        ticket.release()
    return index, matches


def _body(model: ServedModel, index: NearestIndex, matches: list[NearestMatch], query: dict[str, Any]) -> dict[str, Any]:
    return {**matches[0].to_json(), "model": model.id, "query": query, "matches": [m.to_json() for m in matches],
            **describe_index(index), "intended_use": model.intended_use}


@router.get("/models/{model}/nearest", responses=NEAREST_RESPONSES,
            summary="the training slice nearest to a generated image (probe features), and how near that is")
async def get_nearest(model: ModelDep, params: ImageParamsDep, request: Request, engine: EngineDep,
                      admission: AdmissionDep, k: KQuery = 1) -> dict[str, Any]:
    direction_set = resolve_set(model, params.set_id, params.shifts)
    latent = shifted_latent(model, params.seed, direction_set, params.shifts)
    index, matches = await _matches(request, model, latent, engine, admission, k)
    query = {key: value for key, value in params.key().items() if key not in ("window", "scale")}
    return _body(model, index, matches, query)


@router.post("/models/{model}/nearest", responses=NEAREST_RESPONSES,
             summary="the training slice nearest to a posted latent (or seed) with optional shifts")
async def post_nearest(model: ModelDep, body: RenderRequest, request: Request, engine: EngineDep,
                       admission: AdmissionDep, k: KQuery = 1) -> dict[str, Any]:
    if (body.latent is None) == (body.seed is None):
        raise InvalidInputError("give exactly one of `latent` (latent_dim numbers) and `seed`")
    shifts = shifts_from_mapping(body.shifts)
    direction_set = resolve_set(model, body.set, shifts)
    if body.latent is not None:
        latent = latent_from_values(body.latent, model.latent_dim)
        latent = apply_shifts(latent, direction_set.directions, shifts) if direction_set is not None and shifts else latent
    else:
        latent = shifted_latent(model, int(body.seed or 0), direction_set, shifts)
    index, matches = await _matches(request, model, latent, engine, admission, k)
    query = {"latent": body.latent is not None, "seed": body.seed, "set": body.set, "shifts": body.shifts}
    return _body(model, index, matches, query)


@router.get("/models/{model}/nearest.png", response_class=Response, responses=PNG_RESPONSES,
            summary="the training slice nearest to a generated image, rendered again from its data, as a PNG")
async def get_nearest_png(model: ModelDep, params: ImageParamsDep, request: Request, engine: EngineDep,
                          admission: AdmissionDep, cache: CacheDep) -> Response:
    direction_set = resolve_set(model, params.set_id, params.shifts)
    index, _ = _index_and_probe(request, model)
    query = {**params.key(), "index_created": index.header.get("created")}
    etag = make_etag(etag_parts(model, direction_set, "nearest.png", query))

    async def produce() -> bytes:
        latent = shifted_latent(model, params.seed, direction_set, params.shifts)
        _, matches = await _matches(request, model, latent, engine, admission, 1)
        image = await run_in_threadpool(training_slice, index, matches[0].row)  # numpy only: not the engine's worker
        return png_bytes(upscale(unit_to_grey(image[None], model.hu_range, params.window)[0], params.scale))

    headers = {"X-Intended-Use": model.intended_use}
    return await cached_response(request.headers.get("if-none-match"), cache, etag, "image/png", headers, produce)
