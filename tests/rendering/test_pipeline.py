"""The render tail: a query's PNG equals the generator's output windowed and encoded by hand, within the budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from latentct.core.errors import InvalidInputError, NotFoundError, OverloadedError
from latentct.core.latents import latent_from_seed
from latentct.rendering.admission import MPX, RenderAdmission
from latentct.rendering.encoding import png_bytes, upscale
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.latents import apply_shifts
from latentct.rendering.pipeline import build_traversal, frame_pixels, render_encoded, render_image, resolve_set
from latentct.rendering.query import query_from_params, traversal_query
from latentct.rendering.registry import ServedModel, load_served_model
from latentct.rendering.windows import unit_to_grey
from tests.factories import make_tiny_models_dir


@pytest.fixture(scope="module")
def gan(tmp_path_factory: pytest.TempPathFactory) -> ServedModel:
    models_dir = make_tiny_models_dir(tmp_path_factory.mktemp("models"))
    return load_served_model(models_dir / "tiny-gan", torch.device("cpu"), half_precision="off")


@pytest.fixture()
def budget() -> Iterator[RenderAdmission]:
    admission = RenderAdmission(64 * MPX, large_threads=1, small_threads=1)
    yield admission
    admission.close()


def _run(coroutine_factory):  # type: ignore[no-untyped-def]
    async def scenario():  # type: ignore[no-untyped-def]
        engine = InferenceEngine(torch.device("cpu"), max_batch=8, batch_wait_s=0.0).start()
        try:
            return await coroutine_factory(engine)
        finally:
            await engine.close()

    return asyncio.run(scenario())


def test_a_query_renders_as_by_hand(gan: ServedModel, budget: RenderAdmission) -> None:
    query = query_from_params(12, "sefa", ["1:-2.5"], "lung", 2)
    direction_set = resolve_set(gan, query.set_id, query.shifts)
    assert direction_set is not None
    latent = apply_shifts(latent_from_seed(12, gan.latent_dim), direction_set.directions, {1: -2.5})

    async def both(engine: InferenceEngine) -> tuple[bytes, np.ndarray]:
        return await render_image(budget, engine, gan, query, direction_set), await engine.generate(gan, latent[None])

    png, frames = _run(both)
    assert png == png_bytes(upscale(unit_to_grey(frames, gan.hu_range, query.window)[0], 2))
    assert budget.in_flight == 0


def test_sets_and_directions_are_checked_against_the_model(gan: ServedModel) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        resolve_set(gan, "nope", {})
    with pytest.raises(NotFoundError, match="no direction 99"):
        resolve_set(gan, "sefa", {99: 0.0})
    assert resolve_set(gan, None, {}) is None
    with pytest.raises(InvalidInputError, match="`set` is required with `direction`"):
        build_traversal(gan, query_from_params(0, None, [], "full", 1), traversal_query(0, 1.0, 3))


def test_a_traversal_has_its_frames_in_order(gan: ServedModel) -> None:
    traversal = build_traversal(gan, query_from_params(3, "sefa", [], "full", 1), traversal_query(0, 2.0, 5))
    assert traversal.values == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert traversal.latents.shape == (5, gan.latent_dim)
    torch.testing.assert_close(traversal.latents[2], latent_from_seed(3, gan.latent_dim), rtol=0, atol=0)


def test_a_render_over_the_budget_is_refused_before_the_engine(gan: ServedModel, budget: RenderAdmission) -> None:
    latents = torch.zeros(1, gan.latent_dim)
    cost = 65 * MPX  # alone over the whole budget yet admitted alone; hold a large one first so it cannot be
    held = budget.admit(60 * MPX)
    try:
        with pytest.raises(OverloadedError):
            _run(lambda engine: render_encoded(budget, engine, gan, latents, query_from_params(0, None, [], "full", 1).window,
                                               cost, lambda grey: b""))
    finally:
        held.release()
    assert budget.in_flight == 0 and frame_pixels(gan, 2) == gan.image_size**2 * 4
