"""Liveness and readiness: /api/health answers while the process runs, /api/ready only once every model is warm."""

from __future__ import annotations

import torch
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from latentct.api.deps import AdmissionDep, CacheDep, EngineDep, OptionalLabelStoreDep, RegistryDep
from latentct.api.errors import error_response, retry_after
from latentct.api.schemas import Health
from latentct.rendering.errors import public_detail

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="liveness: 200 while the process runs")
async def health(registry: RegistryDep, engine: EngineDep, cache: CacheDep, admission: AdmissionDep) -> Health:
    return Health(
        status="ok",
        ready=registry.ready,
        models=[m.id for m in registry.models()],
        broken=registry.broken,
        engine={
            **engine.stats.as_dict(),
            "in_flight": engine.in_flight,
            "threads": engine.thread_count,
            "torch_threads": torch.get_num_threads(),
            "cache": cache.stats(),
            "render_budget": admission.as_dict(),
        },
    )


@router.get(
    "/ready",
    summary="readiness: 200 once every model is loaded and warm, else 503",
    responses={503: {"description": "still loading or warming up (Retry-After)"}},
)
async def ready(registry: RegistryDep, store: OptionalLabelStoreDep) -> JSONResponse:
    if not registry.ready:
        return error_response(503, "loading and warming up the models", retry_after(1))
    models = [m.id for m in registry.models()]
    # A label database outage does not take the replica out of rotation (images still serve), but it is named here.
    labels = public_detail(store.status) if store is not None else "not configured"  # a driver error may name a path
    return JSONResponse({"status": "ready", "models": models, "broken": registry.broken, "labels": labels})
