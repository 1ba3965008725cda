"""Image endpoints: one image, traversal strips, GIFs and multipart streams, and rendering a posted latent.

Each handler takes its query as rendering/query.py read it, answers If-None-Match and the response cache by ETag, and
leaves the rest to rendering/pipeline.py: latents on the CPU, a ticket of the render budget for what it will produce
(frames x output pixels; 503 at once when it does not fit, cheap images need none), the inference engine, the window,
then the encoding: cheap outputs inline, larger ones on the budget's own encode lanes, so the event loop stays free
and a flood of big requests holds neither the default thread pool nor memory.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from latentct.api.caching import CachedImage, ResponseCache, cache_headers, etag_matches, make_etag, not_modified
from latentct.api.deps import (
    AdmissionDep,
    CacheDep,
    EngineDep,
    ImageParamsDep,
    ModelDep,
    TraversalDep,
    etag_parts,
)
from latentct.api.schemas import RenderRequest
from latentct.core.errors import InvalidInputError
from latentct.rendering.admission import RenderAdmission, Ticket
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
from latentct.rendering.latents import apply_shifts, latent_from_values, shifts_from_mapping
from latentct.rendering.pipeline import (
    build_traversal,
    frame_pixels,
    render_encoded,
    render_grey,
    render_image,
    render_png,
    resolve_set,
    shifted_latent,
)
from latentct.rendering.query import ImageQuery
from latentct.rendering.registry import ServedModel
from latentct.rendering.windows import parse_window

router = APIRouter(tags=["images"])

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


FpsQuery = Annotated[float, Query(ge=1, le=MAX_FPS, allow_inf_nan=False, description=f"frames per second, 1..{MAX_FPS:g}")]


def shift_values_header(values: list[float]) -> dict[str, str]:
    """The traversal's frame values, for clients that label the frames."""
    return {"X-Shift-Values": ",".join(f"{v:.6g}" for v in values)}


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
async def image_png(
    model: ModelDep, params: ImageParamsDep, request: Request, engine: EngineDep, admission: AdmissionDep, cache: CacheDep
) -> Response:
    return await image_response(model, params, engine, admission, cache, request.headers.get("if-none-match"))


async def image_response(
    model: ServedModel,
    params: ImageQuery,
    engine: InferenceEngine,
    admission: RenderAdmission,
    cache: ResponseCache,
    if_none_match: str | None,
) -> Response:
    """The answer of `image.png`, shared by the route and its fast path (api/fast_image.py)."""
    direction_set = resolve_set(model, params.set_id, params.shifts)
    etag = make_etag(etag_parts(model, direction_set, "image.png", params.key()))

    async def produce() -> bytes:
        return await render_image(admission, engine, model, params, direction_set)

    return await cached_response(if_none_match, cache, etag, "image/png", {}, produce)


@router.get(
    "/models/{model}/traversal.png",
    response_class=Response,
    responses=PNG_RESPONSE,
    summary="a traversal as one PNG strip, frames left to right; X-Shift-Values lists the frame values",
)
async def traversal_png(
    model: ModelDep,
    params: ImageParamsDep,
    traversal: TraversalDep,
    request: Request,
    engine: EngineDep,
    admission: AdmissionDep,
    cache: CacheDep,
) -> Response:
    frames = build_traversal(model, params, traversal)
    etag = make_etag(etag_parts(model, frames.direction_set, "traversal.png", {**params.key(), **traversal.key()}))
    cost = traversal.steps * frame_pixels(model, params.scale)

    def encode(grey: np.ndarray) -> bytes:
        # Upscaling the strip equals stripping the upscaled frames (nearest neighbour), with one full-size copy less.
        return png_bytes(upscale(strip(grey), params.scale))

    async def produce() -> bytes:
        return await render_encoded(admission, engine, model, frames.latents, params.window, cost, encode)

    headers = shift_values_header(frames.values)
    return await cached_response(request.headers.get("if-none-match"), cache, etag, "image/png", headers, produce)


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
    admission: AdmissionDep,
    cache: CacheDep,
    fps: FpsQuery = 10.0,
) -> Response:
    frames = build_traversal(model, params, traversal)
    query = {**params.key(), **traversal.key(), "fps": fps + 0.0}
    etag = make_etag(etag_parts(model, frames.direction_set, "traversal.gif", query))
    cost = len(forth_and_back(traversal.steps)) * frame_pixels(model, params.scale)  # the GIF encodes every frame shown

    def encode(grey: np.ndarray) -> bytes:
        return gif_bytes(upscale(grey, params.scale), fps)

    async def produce() -> bytes:
        return await render_encoded(admission, engine, model, frames.latents, params.window, cost, encode)

    headers = shift_values_header(frames.values)
    return await cached_response(request.headers.get("if-none-match"), cache, etag, "image/gif", headers, produce)


class AdmittedStream(StreamingResponse):
    """A streaming response that gives its render-budget ticket back when it ends: played out, the client gone, or the
    server stopping. A stream holds its share for its lifetime, so long slow streams count against the budget."""

    def __init__(self, content: AsyncIterator[bytes], ticket: Ticket, headers: dict[str, str]) -> None:
        super().__init__(content, media_type=MULTIPART_CONTENT_TYPE, headers=headers)
        self.ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.ticket.release()


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
    admission: AdmissionDep,
    fps: FpsQuery = 10.0,
    loops: Annotated[int, Query(ge=1, le=MAX_LOOPS, description=f"how often to play forth and back, 1..{MAX_LOOPS}")] = 1,
) -> StreamingResponse:
    frames = build_traversal(model, params, traversal)
    cost = traversal.steps * frame_pixels(model, params.scale)
    ticket, grey = await render_grey(admission, engine, model, frames.latents, params.window, cost)
    try:
        # One frame upscaled at a time: the stream's memory is its PNGs, not steps full-size frames.
        pngs = await admission.encode(ticket, lambda: [png_bytes(upscale(g, params.scale)) for g in grey], release=False)
    except BaseException:
        ticket.release()
        raise
    sequence = [pngs[i] for i in forth_and_back(len(pngs))] * loops

    async def paced() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        due = loop.time()
        for chunk in multipart_chunks(sequence):
            yield chunk
            due += 1.0 / fps
            await asyncio.sleep(max(0.0, due - loop.time()))

    headers = {**shift_values_header(frames.values), "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return AdmittedStream(paced(), ticket, headers)


@router.post(
    "/models/{model}/render",
    response_class=Response,
    responses=PNG_RESPONSE,
    summary="render a posted latent (or seed) with optional shifts, window and scale",
)
async def render(
    model: ModelDep, body: RenderRequest, request: Request, engine: EngineDep, admission: AdmissionDep, cache: CacheDep
) -> Response:
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
        return await render_png(admission, engine, model, latent, window, body.scale)

    return await cached_response(request.headers.get("if-none-match"), cache, etag, "image/png", {}, produce)
