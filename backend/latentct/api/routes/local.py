"""GET /local-directions: the directions that change the image at one point of the latent space the most (the
pullback metric J^T J at that z; latentct.discovery.methods.jacobian), with the latent itself, so that a client can
render shifts along them with POST /render."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from latentct.api.deps import HeavySlotsDep, ImageParamsDep, ModelDep
from latentct.api.schemas import LocalDirections
from latentct.core.errors import OverloadedError
from latentct.discovery.methods.jacobian import local_directions
from latentct.rendering.pipeline import resolve_set, shifted_latent

router = APIRouter(tags=["models"])


@router.get(
    "/models/{model}/local-directions",
    response_model=LocalDirections,
    summary="directions at this point: eigenvectors of J^T J at the latent of seed (+ shifts), largest change first",
    responses={404: {"description": "unknown model or set"}, 503: {"description": "busy or warming up (Retry-After)"}},
)
async def get_local_directions(
    model: ModelDep,
    params: ImageParamsDep,
    slots: HeavySlotsDep,
    count: Annotated[int, Query(ge=1, le=512, description="directions to return (at most the latent size)")] = 8,
) -> LocalDirections:
    direction_set = resolve_set(model, params.set_id, params.shifts)
    latent = shifted_latent(model, params.seed, direction_set, params.shifts)
    if slots.locked():
        raise OverloadedError("too many heavy requests are running; retry shortly", retry_after_s=2.0)
    started = time.perf_counter()
    async with slots:
        directions, eigenvalues = await run_in_threadpool(local_directions, model.served_module, latent,
                                                          min(count, model.latent_dim))
    return LocalDirections(
        model=model.id, seed=params.seed, set=params.set_id, latent=latent.tolist(), count=len(directions),
        directions=directions.tolist(), eigenvalues=[round(float(v), 6) for v in eigenvalues],
        seconds=round(time.perf_counter() - started, 4),
    )
