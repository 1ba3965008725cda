"""Dependencies: what the lifespan put in app.state, the served model of a path, the image, traversal and volume
parameters, and the annotator behind a label request's bearer token.

Every dependency is `async def` although none awaits: FastAPI runs plain `def` dependencies in its thread pool, a
thread hop per dependency per request for what is a dictionary lookup.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
from fastapi import Depends, Header, Path, Query
from fastapi.requests import HTTPConnection
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from latentct.api.caching import ResponseCache
from latentct.artifacts.catalog import DirectionCatalog
from latentct.core.config import Settings
from latentct.core.errors import InvalidInputError
from latentct.core.latents import MAX_SEED
from latentct.labels.errors import AuthenticationError, LabelStoreUnavailableError, PermissionDeniedError
from latentct.labels.store import Annotator, LabelStore
from latentct.labels.tables import MAX_IDEMPOTENCY_KEY_CHARS
from latentct.rendering.admission import RenderAdmission
from latentct.rendering.encoding import MAX_SCALE
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.errors import NotReadyError
from latentct.rendering.latents import MAX_SHIFT
from latentct.rendering.query import ImageQuery, TraversalQuery, query_from_params, traversal_query
from latentct.rendering.registry import ModelRegistry, ServedDirectionSet, ServedModel
from latentct.rendering.volumes import DEFAULT_SLICES, MAX_SLICES, MIN_SLICES
from latentct.rendering.windows import WINDOW_HELP


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
) -> ImageQuery:
    """The image query of the routes, read by rendering/query.py as the fast path and the live socket read theirs."""
    return query_from_params(seed, set_id, shift or (), window, scale)


ImageParamsDep = Annotated[ImageQuery, Depends(image_params)]

MAX_STEPS = 64


async def traversal_params(
    direction: Annotated[int, Query(ge=0, le=999_999, description="index of the direction to traverse (needs `set`)")],
    extent: Annotated[
        float,
        Query(gt=0, le=MAX_SHIFT, allow_inf_nan=False, description=f"frames from -extent to +extent; 0 < e <= {MAX_SHIFT:g}"),
    ] = 6.0,
    steps: Annotated[int, Query(ge=2, le=MAX_STEPS, description=f"number of frames, 2..{MAX_STEPS}")] = 9,
) -> TraversalQuery:
    """The traversal part of a strip, GIF or stream request (with the image query: seed, set, shifts, window)."""
    return traversal_query(direction, extent, steps)


TraversalDep = Annotated[TraversalQuery, Depends(traversal_params)]


async def get_heavy_slots(connection: HTTPConnection) -> asyncio.Semaphore:
    """The slots of per-request heavy work (/encode, /local-directions share them): at most that many at once."""
    slots: asyncio.Semaphore = connection.app.state.encode_slots
    return slots


HeavySlotsDep = Annotated[asyncio.Semaphore, Depends(get_heavy_slots)]


@dataclass(frozen=True)
class VolumeParams:
    set_id: str
    direction: int | None
    seed: int
    slices: int
    path: str
    reference: str | None = None  # "phantom": a real phantom patient at the volume's levels instead of the volume
    patient: int | None = None
    latent: torch.Tensor | None = None  # POST: the base latent (an encoded slice) in place of the seed's
    note: str | None = None  # POST: where that latent came from, for the volume's notes


async def volume_params(
    set_id: Annotated[str, Query(alias="set", min_length=1, max_length=64, description="direction set id")],
    direction: Annotated[
        int | None, Query(ge=0, le=999_999, description="direction index; default: consensus slice_level, else scorecard")
    ] = None,
    seed: Annotated[int, Query(ge=0, le=MAX_SEED, description=f"0..{MAX_SEED}: the base latent")] = 0,
    slices: Annotated[int, Query(ge=MIN_SLICES, le=MAX_SLICES, description=f"{MIN_SLICES}..{MAX_SLICES}")] = DEFAULT_SLICES,
    path: Annotated[Literal["straight", "locked"], Query(description="straight, or locked (other factors held)")] = "straight",
    reference: Annotated[
        Literal["phantom"] | None, Query(description="phantom: a real phantom training patient at the volume's levels")
    ] = None,
    patient: Annotated[int | None, Query(ge=0, le=999_999, description="the reference's patient (default: 0)")] = None,
) -> VolumeParams:
    if patient is not None and reference is None:
        raise InvalidInputError(f"patient {patient} needs reference=phantom (it picks the real phantom patient shown)")
    return VolumeParams(set_id, direction, seed, slices, path, reference, patient)


VolumeParamsDep = Annotated[VolumeParams, Depends(volume_params)]


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


# labels --------------------------------------------------------------------------------------------------------------

bearer_scheme = HTTPBearer(
    auto_error=False,  # a missing token is our AuthenticationError (401 with the contract's body), not FastAPI's 403
    description="Annotator token: `Authorization: Bearer <token>`; the first admin token is LATENTCT_ADMIN_TOKEN.",
)


async def get_optional_label_store(connection: HTTPConnection) -> LabelStore | None:
    """The label store, or None for routes that serve without it (model cards leave consensus null)."""
    store: LabelStore | None = getattr(connection.app.state, "label_store", None)
    return store


async def get_label_store(store: Annotated[LabelStore | None, Depends(get_optional_label_store)]) -> LabelStore:
    if store is None:
        raise LabelStoreUnavailableError("label store is not configured", retry_after_s=5)
    return store


async def get_catalog(connection: HTTPConnection) -> DirectionCatalog:
    """The served models' direction sets as labels name them (the registry; the label tests hand in their own)."""
    catalog: DirectionCatalog | None = getattr(connection.app.state, "registry", None)
    if catalog is None:
        raise NotReadyError("model registry is not loaded", retry_after_s=5)
    return catalog


OptionalLabelStoreDep = Annotated[LabelStore | None, Depends(get_optional_label_store)]
LabelStoreDep = Annotated[LabelStore, Depends(get_label_store)]
CatalogDep = Annotated[DirectionCatalog, Depends(get_catalog)]


def current_annotator(
    store: LabelStoreDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Annotator:
    """The annotator behind the bearer token, else AuthenticationError.

    A plain `def`, unlike the dependencies above: the token lookup queries the database, which must not block the
    event loop, so FastAPI runs it in its thread pool.
    """
    if credentials is None:
        raise AuthenticationError("missing bearer token", token_given=False)
    annotator = store.authenticate(credentials.credentials)
    if annotator is None:
        raise AuthenticationError("unknown or revoked token", token_given=True)
    return annotator


def optional_annotator(
    store: Annotated[LabelStore | None, Depends(get_optional_label_store)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Annotator | None:
    """The annotator behind a bearer token on a public route, else None (anonymous: blinded answers).

    A public route stays 200 for anyone: an unknown or revoked token, or a label store that cannot be read, is
    answered as if no token came (consensus null), not 401/503. Thread pool, like `current_annotator`.
    """
    if store is None or credentials is None:
        return None
    try:
        return store.authenticate(credentials.credentials)
    except LabelStoreUnavailableError:
        return None


async def admin_annotator(annotator: Annotated[Annotator, Depends(current_annotator)]) -> Annotator:
    if not annotator.is_admin:
        raise PermissionDeniedError(f"annotator {annotator.id} has role {annotator.role!r}; this needs 'admin'")
    return annotator


AnnotatorDep = Annotated[Annotator, Depends(current_annotator)]
OptionalAnnotatorDep = Annotated[Annotator | None, Depends(optional_annotator)]
AdminDep = Annotated[Annotator, Depends(admin_annotator)]


REPLAYED_HEADER = "Idempotent-Replayed"
# what the OpenAPI schema says of the header; the store checks it itself, so that a bad key gets a readable 422
IDEMPOTENCY_KEY_SCHEMA = {
    "minLength": 1,
    "maxLength": MAX_IDEMPOTENCY_KEY_CHARS,
    "pattern": r"^[!-~]([ -~]*[!-~])?$",
}
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            f"optional, 1..{MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters (e.g. a UUID), one per label and "
            "the same for its retries: a retry with the same body answers the first label again (201, "
            f"`{REPLAYED_HEADER}: true`), the same key with another body is 409. Keys belong to the annotator."
        ),
        json_schema_extra=IDEMPOTENCY_KEY_SCHEMA,
    ),
]
