"""Image endpoints: one image, traversal strips, GIFs and multipart streams, and rendering a posted latent.

Each handler validates its query, builds latents on the CPU, awaits the inference engine, then windows and encodes;
large outputs are encoded on a worker thread so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from latentct.api.caching import CachedImage, ResponseCache, cache_headers, etag_matches, make_etag, not_modified
from latentct.api.deps import (
    CacheDep,
    EngineDep,
    ImageParams,
    ImageParamsDep,
    ModelDep,
    etag_parts,
    resolve_set,
    shifted_latent,
)
from latentct.api.schemas import RenderRequest
from latentct.errors import InvalidInputError
from latentct.rendering.encoding import (
    MULTIPART_CONTENT_TYPE,
    forth_and_back,
    gif_bytes,
    multipart_chunks,
    png_bytes,
    strip,
    upscale,
)
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.latents import (
    MAX_SHIFT,
    apply_shifts,
    check_direction_index,
    latent_from_values,
    shifts_from_mapping,
    traversal_latents,
    traversal_values,
)
from latentct.rendering.registry import ServedDirectionSet, ServedModel
from latentct.rendering.windows import Window, parse_window, unit_to_grey

router = APIRouter(tags=["images"])

OFFLOAD_PIXELS = 256 * 256  # encode bigger outputs on a worker thread, smaller ones inline (a thread hop costs more)
MAX_STEPS = 64
MAX_FPS = 30.0
MAX_LOOPS = 10
PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "8-bit greyscale PNG"},
    304: {"description": "If-None-Match matched the ETag"},
    404: {"description": "unknown model, direction set or direction"},
    422: {"description": "a parameter is out of range or malformed"},
    503: {"description": "overloaded or warming up (Retry-After)"},
}
GIF_RESPONSE = {**PNG_RESPONSE, 200: {"content": {"image/gif": {}}, "description": "animated GIF, forth and back"}}
STREAM_RESPONSE = {
    **PNG_RESPONSE,
    200: {"content": {MULTIPART_CONTENT_TYPE: {}}, "description": "one PNG part per frame, paced at fps"},
}


@dataclass(frozen=True)
class TraversalParams:
    direction: int
    extent: float
    steps: int

    def key(self) -> dict[str, Any]:
        return {"direction": self.direction, "extent": self.extent, "steps": self.steps}


async def traversal_params(
    direction: Annotated[int, Query(ge=0, le=999_999, description="index of the direction to traverse (needs `set`)")],
    extent: Annotated[
        float,
        Query(gt=0, le=MAX_SHIFT, allow_inf_nan=False, description=f"frames from -extent to +extent; 0 < e <= {MAX_SHIFT:g}"),
    ] = 6.0,
    steps: Annotated[int, Query(ge=2, le=MAX_STEPS, description=f"number of frames, 2..{MAX_STEPS}")] = 9,
) -> TraversalParams:
    return TraversalParams(direction=direction, extent=extent + 0.0, steps=steps)


TraversalDep = Annotated[TraversalParams, Depends(traversal_params)]
FpsQuery = Annotated[float, Query(ge=1, le=MAX_FPS, allow_inf_nan=False, description=f"frames per second, 1..{MAX_FPS:g}")]


@dataclass(frozen=True)
class Traversal:
    latents: torch.Tensor  # (steps, latent_dim)
    values: list[float]
    direction_set: ServedDirectionSet

    @property
    def header(self) -> dict[str, str]:
        return {"X-Shift-Values": ",".join(f"{v:.6g}" for v in self.values)}


def build_traversal(model: ServedModel, params: ImageParams, traversal: TraversalParams) -> Traversal:
    if params.set_id is None:
        raise InvalidInputError("`set` is required with `direction`: a traversal follows a direction of a set")
    direction_set = resolve_set(model, params.set_id, params.shifts)
    assert direction_set is not None
    index = check_direction_index(traversal.direction, direction_set.count, direction_set.id)
    base = shifted_latent(model, params.seed, direction_set, params.shifts)
    values = traversal_values(traversal.extent, traversal.steps)
    latents = traversal_latents(base, direction_set.directions[index], values)
    return Traversal(latents=latents, values=values, direction_set=direction_set)


async def _off_loop_if_large(pixels: int, fn: Callable[[], bytes]) -> bytes:
    if pixels > OFFLOAD_PIXELS:
        return await run_in_threadpool(fn)
    return fn()


async def render_grey(engine: InferenceEngine, model: ServedModel, latents: torch.Tensor, window: Window) -> np.ndarray:
    """(N, latent_dim) -> (N, H, W) uint8 through the engine and the window."""
    frames = await engine.generate(model, latents)
    return unit_to_grey(frames, model.hu_range, window)


async def cached_response(
    if_none_match: str | None,
    cache: ResponseCache,
    etag: str,
    media_type: str,
    headers: dict[str, str],
    produce: Callable[[], Awaitable[bytes]],
) -> Response:
    """304 on a matching If-None-Match; else the cached bytes for the tag, or freshly produced (and cached) ones."""
    if etag_matches(if_none_match, etag):
        return not_modified(etag, headers)
    cached = cache.get(etag)
    if cached is None:
        cached = cache.put(etag, CachedImage(await produce(), media_type, headers))
    return Response(cached.body, media_type=cached.media_type, headers={**cache_headers(etag), **cached.headers})


@router.get("/models/{model}/image.png", response_class=Response, responses=PNG_RESPONSE, summary="one image")
async def image_png(model: ModelDep, params: ImageParamsDep, request: Request, engine: EngineDep, cache: CacheDep) -> Response:
    return await image_response(model, params, engine, cache, request.headers.get("if-none-match"))


async def image_response(
    model: ServedModel, params: ImageParams, engine: InferenceEngine, cache: ResponseCache, if_none_match: str | None
) -> Response:
    """The answer of `image.png`, shared by the route and its fast path (api/fast_image.py)."""
    direction_set = resolve_set(model, params.set_id, params.shifts)
    etag = make_etag(etag_parts(model, direction_set, "image.png", params.key()))

    async def produce() -> bytes:
        latent = shifted_latent(model, params.seed, direction_set, params.shifts)
        grey = (await render_grey(engine, model, latent[None], params.window))[0]
        size = grey.size * params.scale**2
        return await _off_loop_if_large(size, lambda: png_bytes(upscale(grey, params.scale)))

    return await cached_response(if_none_match, cache, etag, "image/png", {}, produce)


@router.get(
    "/models/{model}/traversal.png",
    response_class=Response,
    responses=PNG_RESPONSE,
    summary="a traversal as one PNG strip, frames left to right; X-Shift-Values lists the frame values",
)
async def traversal_png(
    model: ModelDep, params: ImageParamsDep, traversal: TraversalDep, request: Request, engine: EngineDep, cache: CacheDep
) -> Response:
    frames = build_traversal(model, params, traversal)
    etag = make_etag(etag_parts(model, frames.direction_set, "traversal.png", {**params.key(), **traversal.key()}))

    async def produce() -> bytes:
        grey = await render_grey(engine, model, frames.latents, params.window)
        size = grey.size * params.scale**2
        return await _off_loop_if_large(size, lambda: png_bytes(strip(upscale(grey, params.scale))))

    return await cached_response(request.headers.get("if-none-match"), cache, etag, "image/png", frames.header, produce)


@router.get(
    "/models/{model}/traversal.gif",
    response_class=Response,
    responses=GIF_RESPONSE,
    summary="the traversal frames as an animated GIF, forth and back (2 x steps - 2 frames), looping",
)
async def traversal_gif(
    model: ModelDep,
    params: ImageParamsDep,
    traversal: TraversalDep,
    request: Request,
    engine: EngineDep,
    cache: CacheDep,
    fps: FpsQuery = 10.0,
) -> Response:
    frames = build_traversal(model, params, traversal)
    query = {**params.key(), **traversal.key(), "fps": fps + 0.0}
    etag = make_etag(etag_parts(model, frames.direction_set, "traversal.gif", query))

    async def produce() -> bytes:
        grey = await render_grey(engine, model, frames.latents, params.window)
        return await run_in_threadpool(lambda: gif_bytes(upscale(grey, params.scale), fps))

    return await cached_response(request.headers.get("if-none-match"), cache, etag, "image/gif", frames.header, produce)


@router.get(
    "/models/{model}/traversal/stream",
    response_class=StreamingResponse,
    responses=STREAM_RESPONSE,
    summary="the traversal as multipart/x-mixed-replace (boundary=frame), forth and back, `loops` times at `fps`",
    description=(
        "Each chunk ends with the next part's boundary and headers, so browsers show every frame on time. "
        "Not cached (Cache-Control: no-store): a stream is a sequence in time, not a document."
    ),
)
async def traversal_stream(
    model: ModelDep,
    params: ImageParamsDep,
    traversal: TraversalDep,
    engine: EngineDep,
    fps: FpsQuery = 10.0,
    loops: Annotated[int, Query(ge=1, le=MAX_LOOPS, description=f"how often to play forth and back, 1..{MAX_LOOPS}")] = 1,
) -> StreamingResponse:
    frames = build_traversal(model, params, traversal)
    grey = upscale(await render_grey(engine, model, frames.latents, params.window), params.scale)
    pngs = await run_in_threadpool(lambda: [png_bytes(g) for g in grey])
    sequence = [pngs[i] for i in forth_and_back(len(pngs))] * loops

    async def paced() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        due = loop.time()
        for chunk in multipart_chunks(sequence):
            yield chunk
            due += 1.0 / fps
            await asyncio.sleep(max(0.0, due - loop.time()))

    headers = {**frames.header, "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(paced(), media_type=MULTIPART_CONTENT_TYPE, headers=headers)


@router.post(
    "/models/{model}/render",
    response_class=Response,
    responses=PNG_RESPONSE,
    summary="render a posted latent (or seed) with optional shifts, window and scale",
)
async def render(model: ModelDep, body: RenderRequest, request: Request, engine: EngineDep, cache: CacheDep) -> Response:
    if (body.latent is None) == (body.seed is None):
        raise InvalidInputError("give exactly one of `latent` (latent_dim numbers) and `seed`")
    shifts = shifts_from_mapping(body.shifts)
    direction_set = resolve_set(model, body.set, shifts)
    window = parse_window(body.window)
    if body.latent is not None:
        latent = latent_from_values(body.latent, model.latent_dim)
        if direction_set is not None and shifts:
            latent = apply_shifts(latent, direction_set.directions, shifts)
    else:
        assert body.seed is not None
        latent = shifted_latent(model, body.seed, direction_set, shifts)
    query = {"latent_sha256": hashlib.sha256(latent.numpy().tobytes()).hexdigest(), "window": window.key, "scale": body.scale}
    etag = make_etag(etag_parts(model, direction_set, "render", query))

    async def produce() -> bytes:
        grey = (await render_grey(engine, model, latent[None], window))[0]
        return await _off_loop_if_large(grey.size * body.scale**2, lambda: png_bytes(upscale(grey, body.scale)))

    return await cached_response(request.headers.get("if-none-match"), cache, etag, "image/png", {}, produce)
