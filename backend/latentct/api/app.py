"""The FastAPI app factory and its lifespan: registry, inference engine and label store live in app.state.

app.state after startup:
- settings: Settings            the configuration the app was built with
- registry: ModelRegistry       served models (latentct.artifacts.catalog.DirectionCatalog for the label routes)
- engine: InferenceEngine       the one worker per device that runs every forward pass
- admission: RenderAdmission    the render budget (output pixels in flight, forward pass + encoding) and its encode lanes
- label_store: LabelStore       clinicians' labels (SQLite by default)
- response_cache: ResponseCache rendered images by ETag
- encode_slots: asyncio.Semaphore  concurrent /encode requests
- warmup_task: asyncio.Task     loads and warms the models in the background; /api/ready is 503 until it is done
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import torch
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from latentct import INTENDED_USE, __version__
from latentct.api.caching import ResponseCache
from latentct.api.errors import install_error_handlers
from latentct.api.fast_image import ImageFastPath
from latentct.api.frontend import mount_frontend
from latentct.api.limits import BodyLimitMiddleware
from latentct.api.routes import ROUTERS
from latentct.api.security_headers import SecurityHeadersMiddleware
from latentct.core.config import Settings
from latentct.core.device import resolve_device
from latentct.labels import open_label_store
from latentct.labels.tokens import check_admin_token
from latentct.rendering.admission import MPX, RenderAdmission
from latentct.rendering.cpu_threads import resolve_engine_threads, resolve_torch_threads
from latentct.rendering.engine import InferenceEngine, configure_torch_threads
from latentct.rendering.registry import ModelRegistry, ServedModel

log = logging.getLogger(__name__)

API_DESCRIPTION = """
REST contract version 1 (docs/api.md). {intended_use}.

Image responses are 8-bit greyscale PNGs (GIF for traversal.gif) with a strong `ETag` and
`Cache-Control: public, max-age=31536000, immutable`; `If-None-Match` answers 304. Errors are JSON `{{"detail": ...}}`:
422 invalid parameter, 404 unknown model / set / direction, 400 / 413 / 415 bad upload, 503 with `Retry-After` when
overloaded or warming up.

**WebSocket** `/api/models/{{model}}/live` (not listed below, OpenAPI has no WebSockets): send JSON text messages
`{{"seed": 0..2^31-1, "set": id, "shifts": {{"k": v}}, "window": "full" | "lung" | "mediastinum" | "bone" | "W,L",
"scale": 1..8}}` (all optional); each is answered with one binary PNG, the newest message winning over ones not yet
rendered. A bad message gets a text frame `{{"error": ...}}` and the socket stays open; an unknown model closes it
with code 4404.
"""
WARM_BATCH_SIZES = (1, 2, 9)  # 1 and 2+ are separate graphs under torch.compile; 9 is the default traversal


def _warm_up(model: ServedModel, max_batch: int) -> None:
    """Run every network once per batch size that requests will use first (compiles, allocates, picks kernels)."""
    with torch.inference_mode():
        for size in sorted({min(b, max_batch) for b in WARM_BATCH_SIZES}):
            model.run_forward(torch.zeros(size, model.latent_dim, device=model.device, dtype=model.dtype))
        if model.encoder is not None:
            model.encoder(torch.zeros(1, 1, model.image_size, model.image_size, device=model.device, dtype=model.dtype))


async def load_and_warm(registry: ModelRegistry, engine: InferenceEngine) -> None:
    """Load every model on the engine's worker, warm each (falling back to eager if compiling fails), then ready."""
    try:
        await engine.call(registry.load_all)
        for model in registry.models():
            try:
                await engine.call(lambda m=model: _warm_up(m, engine.max_batch))  # type: ignore[misc]
            except Exception as exc:
                if not model.compiled:
                    registry.mark_broken(model.id, f"warm-up failed: {exc}")
                    continue
                log.warning("model %s: torch.compile failed (%s); serving it eagerly", model.id, exc)
                model.fall_back_to_eager()
                await engine.call(lambda m=model: _warm_up(m, engine.max_batch))  # type: ignore[misc]
    except Exception:
        log.exception("loading the models failed; serving what loaded")
    finally:
        registry.mark_ready()
        log.info("ready: %d model(s) served, %d broken", len(registry.models()), len(registry.broken))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    device = resolve_device(settings.device)
    engine_threads = resolve_engine_threads(settings.engine_threads, settings.workers) if device.type == "cpu" else 1
    torch_threads = resolve_torch_threads(settings.cpu_threads, settings.workers, engine_threads, device_type=device.type)
    configure_torch_threads(torch_threads)
    registry = ModelRegistry(settings.models_dir, device, settings.half_precision, settings.compile)
    engine = InferenceEngine(
        device,
        max_batch=settings.max_batch,
        batch_wait_s=settings.batch_wait_ms / 1000.0,
        queue_size=settings.queue_size,
        threads=engine_threads,  # one stream of work per GPU
    ).start()
    admission = RenderAdmission(settings.render_budget_mpx * MPX)
    label_store = None
    try:
        label_store = await run_in_threadpool(open_label_store, settings)
        app.state.registry = registry
        app.state.engine = engine
        app.state.admission = admission
        app.state.label_store = label_store
        app.state.response_cache = ResponseCache(settings.response_cache_mb * 1024 * 1024)
        app.state.encode_slots = asyncio.Semaphore(settings.max_concurrent_encodes)
        app.state.warmup_task = asyncio.create_task(load_and_warm(registry, engine))
        log.info("serving models from %s on %s", settings.models_dir, device)
        yield
    finally:
        warmup = getattr(app.state, "warmup_task", None)
        if warmup is not None and not warmup.done():
            warmup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warmup
        await engine.close(settings.shutdown_timeout_s)  # in-flight requests have finished: uvicorn waited for them
        admission.close()
        if label_store is not None:
            label_store.close()


def _api_router() -> APIRouter:
    api = APIRouter(prefix="/api")
    for router in ROUTERS:
        api.include_router(router)
    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for uvicorn (`uvicorn --factory latentct.api.app:create_app`); settings default to LATENTCT_* env."""
    settings = settings or Settings()
    check_admin_token(settings.admin_token)  # a weak LATENTCT_ADMIN_TOKEN is refused before anything starts
    app = FastAPI(
        title="LatentCT",
        version=__version__,
        summary="Latent traversals of generative models of thoracic CT, and clinicians' labels of their directions.",
        description=API_DESCRIPTION.format(intended_use=INTENDED_USE.capitalize()),
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(ImageFastPath)  # added first: the innermost, so the body limit and CORS wrap it too
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "Idempotency-Key"],
            expose_headers=["ETag", "X-Shift-Values", "Retry-After", "Idempotent-Replayed"],
        )
    # added last: the outermost, so the fast path's images, the 413s and CORS answers carry the headers too
    docs_paths = (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(SecurityHeadersMiddleware, csp_exempt_paths=docs_paths)
    app.include_router(_api_router())
    mount_frontend(app, settings.frontend_dir)
    app.openapi = lambda: _openapi_schema(app)  # type: ignore[method-assign]
    return app


def _openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with 422 bodies declared as we send them: a one-line `detail` plus the `errors` list."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
        )
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = {
                "title": "HTTPValidationError",
                "type": "object",
                "required": ["detail"],
                "properties": {
                    "detail": {"type": "string", "description": "what is wrong, naming the value and what is allowed"},
                    "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
                },
            }
        app.openapi_schema = schema
    return app.openapi_schema
