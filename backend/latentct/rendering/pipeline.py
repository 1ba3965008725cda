"""The render tail of every image request, in numbered steps: latents -> engine -> window -> uint8 -> PNG (or GIF)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latentct.core.errors import InvalidInputError
from latentct.core.latents import latent_from_seed
from latentct.rendering.admission import RenderAdmission, Ticket
from latentct.rendering.encoding import png_bytes, upscale
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.latents import apply_shifts, check_direction_index, traversal_latents, traversal_values
from latentct.rendering.query import ImageQuery, TraversalQuery, check_shifts_have_set
from latentct.rendering.registry import ServedDirectionSet, ServedModel
from latentct.rendering.windows import Window, unit_to_grey


@dataclass(frozen=True)
class Traversal:
    """A traversal's frames: latents (steps, latent_dim) at the shift `values` along one direction of `direction_set`."""

    latents: torch.Tensor
    values: list[float]
    direction_set: ServedDirectionSet


def resolve_set(model: ServedModel, set_id: str | None, shifts: dict[int, float]) -> ServedDirectionSet | None:
    """The direction set a request names (None if none), with every shifted index checked against it (404 beyond)."""
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


def build_traversal(model: ServedModel, query: ImageQuery, traversal: TraversalQuery) -> Traversal:
    """The frames of a traversal around the query's latent: z + t_i * d_direction for t_i from -extent to +extent."""
    if query.set_id is None:
        raise InvalidInputError("`set` is required with `direction`: a traversal follows a direction of a set")
    direction_set = resolve_set(model, query.set_id, query.shifts)
    assert direction_set is not None
    index = check_direction_index(traversal.direction, direction_set.count, direction_set.id)
    base = shifted_latent(model, query.seed, direction_set, query.shifts)
    values = traversal_values(traversal.extent, traversal.steps)
    return Traversal(traversal_latents(base, direction_set.directions[index], values), values, direction_set)


def frame_pixels(model: ServedModel, scale: int) -> int:
    """Output pixels of one frame: what a frame costs in the render budget."""
    return model.image_size * model.image_size * scale * scale


async def render_grey(
    admission: RenderAdmission, engine: InferenceEngine, model: ServedModel, latents: torch.Tensor, window: Window, cost: int
) -> tuple[Ticket, np.ndarray]:
    """Steps 2-4: (N, latent_dim) -> a ticket and (N, H, W) uint8; the caller encodes and gives the ticket back."""
    # 2. A share of the render budget for the `cost` output pixels: OverloadedError (503) at once when it does not fit.
    ticket = admission.admit(cost)
    try:
        # 3. The forward pass, batched with other requests by the engine: (N, H, W) in [-1, 1].
        frames = await engine.generate(model, latents)
        # 4. [-1, 1] -> HU (the model's hu_range) -> the window -> uint8.
        return ticket, unit_to_grey(frames, model.hu_range, window)
    except BaseException:
        ticket.release()
        raise


async def render_encoded(
    admission: RenderAdmission,
    engine: InferenceEngine,
    model: ServedModel,
    latents: torch.Tensor,
    window: Window,
    cost: int,
    encode: Callable[[np.ndarray], bytes],
) -> bytes:
    """Steps 2-5: render, then encode the grey frames (inline when cheap, else on the budget's lane); the ticket is
    given back when the encoding has ended."""
    ticket, grey = await render_grey(admission, engine, model, latents, window, cost)
    # 5. Encode, and give the ticket back once done (also when the caller is cancelled meanwhile).
    return await admission.encode(ticket, lambda: encode(grey))


async def render_png(
    admission: RenderAdmission, engine: InferenceEngine, model: ServedModel, latent: torch.Tensor, window: Window, scale: int
) -> bytes:
    """One (latent_dim,) latent -> PNG bytes (POST /render, and `render_image`)."""
    return await render_encoded(
        admission, engine, model, latent[None], window, frame_pixels(model, scale), lambda g: png_bytes(upscale(g[0], scale))
    )


async def render_image(
    admission: RenderAdmission,
    engine: InferenceEngine,
    model: ServedModel,
    query: ImageQuery,
    direction_set: ServedDirectionSet | None,
) -> bytes:
    """An image query -> PNG bytes: image.png (route and fast path) and the live socket. `direction_set` is
    `resolve_set`'s answer for the query, resolved by the caller before (its ETag names the set's checksum)."""
    # 1. The latent: z from the seed plus the shifts, on the CPU in float32 (the same bytes on every machine).
    latent = shifted_latent(model, query.seed, direction_set, query.shifts)
    # 2-5. The render budget, the forward pass, the window, the PNG.
    return await render_png(admission, engine, model, latent, query.window, query.scale)
