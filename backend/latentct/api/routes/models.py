"""Model and direction-set descriptions: ModelInfo and DirectionSetInfo of the contract, consensus from the labels."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Response
from starlette.concurrency import run_in_threadpool

from latentct.api.caching import cache_headers, etag_matches, make_etag, not_modified
from latentct.api.deps import ModelDep, OptionalAnnotatorDep, OptionalLabelStoreDep, RegistryDep
from latentct.api.schemas import (
    Consensus,
    DirectionInfo,
    DirectionSetInfo,
    DirectionSetSummary,
    DirectionVectors,
    ModelInfo,
)
from latentct.core.errors import NotFoundError
from latentct.labels import Annotator, LabelStore, LabelStoreUnavailableError
from latentct.labels.agreement import DirectionAgreement, SetAgreement
from latentct.labels.blinding import consensus_view, may_see, visible_metrics
from latentct.rendering.registry import ServedModel
from latentct.rendering.volumes import model_pixel_spacing_mm

log = logging.getLogger(__name__)
router = APIRouter(tags=["models"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown model or direction set"},
    503: {"description": "still warming up (Retry-After)"},
}


def model_info(model: ServedModel) -> ModelInfo:
    return ModelInfo(
        id=model.id,
        kind=model.kind,  # type: ignore[arg-type]
        latent_dim=model.latent_dim,
        image_size=model.image_size,
        hu_range=model.hu_range,
        description=model.description,
        direction_sets=[DirectionSetSummary(id=s.id, method=s.method, count=s.count, trained=s.trained)
                        for s in model.sets.values()],
        checksum=model.generator_checksum,
        precision=str(model.dtype).removeprefix("torch."),
        precision_error_hu=model.half_error_hu,
        device=model.device.type,
        intended_use=model.intended_use,
        has_scorecard=model.scorecard is not None,
        pixel_spacing_mm=model_pixel_spacing_mm(model),
    )


@router.get("/models", response_model=list[ModelInfo], summary="every served model")
async def list_models(registry: RegistryDep) -> list[ModelInfo]:
    return [model_info(m) for m in registry.models()]


@router.get("/models/{model}", response_model=ModelInfo, summary="one model", responses=NOT_FOUND)
async def get_model(model: ModelDep) -> ModelInfo:
    return model_info(model)


def _agreement(store: LabelStore | None, registry: RegistryDep, model_id: str, set_id: str) -> SetAgreement | None:
    """The set's agreement, or None when the label store cannot be read (the set info is still served)."""
    if store is None:
        return None
    try:
        return store.agreement(registry.direction_set_identity(model_id, set_id))
    except LabelStoreUnavailableError as exc:
        log.warning("consensus unavailable for %s/%s: %s", model_id, set_id, exc)
        return None


def _direction_info(
    index: int, metrics: dict[str, Any], direction: DirectionAgreement | None, viewer: Annotator | None
) -> DirectionInfo:
    """One direction as this caller may see it: consensus and measured hints only where blinding allows.

    Without a readable label store nobody can be shown to have labelled, so only admins keep the hints.
    """
    shown = may_see(direction, viewer) if direction is not None else viewer is not None and viewer.is_admin
    view = consensus_view(direction, viewer) if direction is not None else None
    return DirectionInfo(
        index=index,
        metrics=visible_metrics(metrics, show_hints=shown),
        consensus=Consensus(**view) if view is not None else None,
    )


@router.get(
    "/models/{model}/directions/{set}",
    response_model=DirectionSetInfo,
    summary="a direction set: method, parameters, per-direction metrics and the clinicians' consensus (blinded: "
    "consensus and measured hints only to admins, and to annotators for directions they labelled)",
    responses=NOT_FOUND,
)
async def get_direction_set(
    model: ModelDep,
    registry: RegistryDep,
    store: OptionalLabelStoreDep,
    viewer: OptionalAnnotatorDep,
    response: Response,
    set_id: Annotated[str, Path(alias="set", max_length=64, description="direction set id")],
) -> DirectionSetInfo:
    direction_set = model.direction_set(set_id)
    agreement = await run_in_threadpool(_agreement, store, registry, model.id, direction_set.id)
    by_index = {d.index: d for d in agreement.directions} if agreement is not None else {}
    response.headers["Vary"] = "Authorization"  # the answer depends on who asks
    response.headers["Cache-Control"] = "no-store"
    return DirectionSetInfo(
        id=direction_set.id,
        method=direction_set.method,
        count=direction_set.count,
        params=direction_set.params,
        directions=[
            _direction_info(i, metrics, by_index.get(i), viewer)
            for i, metrics in enumerate(direction_set.direction_metrics)
        ],
        checksum=direction_set.checksum,
        consensus_available=agreement is not None,
    )


@router.get(
    "/models/{model}/directions/{set}/vectors",
    response_model=DirectionVectors,
    summary="the set's unit direction rows (an extension of the contract, used to compare two sets)",
    responses={**NOT_FOUND, 304: {"description": "not modified (If-None-Match)"}},
)
async def get_direction_vectors(
    model: ModelDep,
    set_id: Annotated[str, Path(alias="set", max_length=64, description="direction set id")],
    response: Response,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> DirectionVectors | Response:
    direction_set = model.direction_set(set_id)
    etag = make_etag({"kind": "vectors", "model": model.generator_checksum, "set": direction_set.checksum})
    if etag_matches(if_none_match, etag):
        return not_modified(etag)
    response.headers.update(cache_headers(etag))
    return DirectionVectors(
        id=direction_set.id,
        count=direction_set.count,
        latent_dim=int(direction_set.directions.shape[1]),
        checksum=direction_set.checksum,
        directions=direction_set.directions.tolist(),
    )


@router.get(
    "/models/{model}/scorecard",
    summary="which paper factors each direction set finds, beside random directions (an extension of the contract)",
    responses={404: {"description": "unknown model, or no scorecard written (`latentct scorecard`)"}},
)
async def get_scorecard(model: ModelDep) -> dict[str, Any]:
    if model.scorecard is None:
        raise NotFoundError(f"model {model.id!r} has no scorecard (run `latentct scorecard --model ...`)")
    return model.scorecard.to_json()
