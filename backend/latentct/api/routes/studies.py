"""HTTP routes of blinded reader studies (labels/studies.py): admins create studies and read results, annotators get
opaque items in their own order, see each item's traversal through the study, and label it.

Nothing an annotator can request names a direction set: items are random ids, the traversal is rendered here (no
redirect, no ETag that a client could recompute from a set's public checksum), and errors are re-worded with set ids
hidden. Statuses come from api/errors.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Path, Query, Response, status

from latentct import INTENDED_USE
from latentct.api.caching import CachedImage, make_etag
from latentct.api.deps import (
    MAX_STEPS,
    AdminDep,
    AdmissionDep,
    AnnotatorDep,
    CacheDep,
    CatalogDep,
    EngineDep,
    IdempotencyKeyHeader,
    LabelStoreDep,
    RegistryDep,
    etag_parts,
)
from latentct.api.routes.labels import ERROR_RESPONSES
from latentct.api.schemas import (
    MAX_INT32,
    StudyCreated,
    StudyIn,
    StudyItemOut,
    StudyLabelIn,
    StudyLabelOut,
    StudyMethodOut,
    StudyOut,
    StudyResultsOut,
    StudySetOut,
)
from latentct.artifacts.cards import Scorecard
from latentct.core.errors import LatentCTError
from latentct.core.latents import MAX_SEED
from latentct.labels.studies import LabelFields, StudyDetail, StudyStore, hide_sets
from latentct.labels.study_results import MethodResult, results_csv, results_figure, study_results
from latentct.labels.study_tables import ITEM_ID_CHARS
from latentct.rendering.encoding import MAX_SCALE, png_bytes, strip, upscale
from latentct.rendering.latents import MAX_SHIFT
from latentct.rendering.pipeline import build_traversal, frame_pixels, render_encoded
from latentct.rendering.query import query_from_params, traversal_query
from latentct.rendering.windows import WINDOW_HELP

router = APIRouter(tags=["studies"])

StudyId = Annotated[int, Path(ge=1, le=MAX_INT32, description="study id")]
ItemId = Annotated[
    str, Path(min_length=1, max_length=ITEM_ID_CHARS, pattern="^[0-9a-f]+$", description="opaque item id")
]
# images of a study item are per annotator and must not be shared by caches between them
PRIVATE_CACHE = "private, max-age=3600"


def _created(detail: StudyDetail) -> StudyCreated:
    return StudyCreated(
        id=detail.id,
        name=detail.name,
        model=detail.model_id,
        created_at=detail.created_at,
        created_by=detail.created_by,
        sets=[StudySetOut(set=s.set_id, set_checksum=s.set_checksum, directions=s.directions) for s in detail.sets],
        items=sum(s.directions for s in detail.sets),
    )


@router.post(
    "/studies",
    status_code=status.HTTP_201_CREATED,
    response_model=StudyCreated,
    responses={**ERROR_RESPONSES, 404: {"description": "unknown model or set"}},
    summary="Create a blinded reader study from several direction sets of one model (admin)",
)
def post_study(body: StudyIn, store: LabelStoreDep, catalog: CatalogDep, admin: AdminDep) -> StudyCreated:
    identities = [catalog.direction_set_identity(body.model, set_id) for set_id in body.sets]
    return _created(StudyStore(store).create(admin, identities, body.name, body.directions_per_set))


@router.get("/studies", response_model=list[StudyOut], responses=ERROR_RESPONSES, summary="Studies, as you see them")
def get_studies(store: LabelStoreDep, annotator: AnnotatorDep) -> list[StudyOut]:
    studies = StudyStore(store)
    return [_study_out(studies, study_id, annotator) for study_id in studies.study_ids()]


@router.get(
    "/studies/{study_id}",
    response_model=StudyOut,
    responses={**ERROR_RESPONSES, 404: {"description": "unknown study"}},
    summary="One study: your progress and your next item",
)
def get_study(study_id: StudyId, store: LabelStoreDep, annotator: AnnotatorDep) -> StudyOut:
    return _study_out(StudyStore(store), study_id, annotator)


def _study_out(studies: StudyStore, study_id: int, annotator: AnnotatorDep) -> StudyOut:
    view = studies.view(study_id, annotator)
    return StudyOut(
        id=view.id, name=view.name, model=view.model_id, items=view.items, labelled=view.labelled,
        next_item=view.next_item,
    )


@router.get(
    "/studies/{study_id}/items",
    response_model=list[StudyItemOut],
    responses={**ERROR_RESPONSES, 404: {"description": "unknown study"}},
    summary="The study's items in your order (seeded by study and annotator)",
)
def get_items(study_id: StudyId, store: LabelStoreDep, annotator: AnnotatorDep) -> list[StudyItemOut]:
    return [
        StudyItemOut(item=item.item_id, position=item.position, labelled=item.labelled)
        for item in StudyStore(store).annotator_items(study_id, annotator)
    ]


@router.get(
    "/studies/{study_id}/items/{item}/traversal.png",
    response_class=Response,
    responses={**ERROR_RESPONSES, 200: {"content": {"image/png": {}}}, 404: {"description": "unknown study or item"}},
    summary="The item's traversal strip (frames left to right, X-Shift-Values), its set hidden",
)
async def get_item_traversal(
    study_id: StudyId,
    item: ItemId,
    store: LabelStoreDep,
    _annotator: AnnotatorDep,
    registry: RegistryDep,
    engine: EngineDep,
    admission: AdmissionDep,
    cache: CacheDep,
    seed: Annotated[int, Query(ge=0, le=MAX_SEED)] = 0,
    window: Annotated[str, Query(max_length=64, description=WINDOW_HELP)] = "full",
    extent: Annotated[float, Query(gt=0, le=MAX_SHIFT, allow_inf_nan=False)] = 6.0,
    steps: Annotated[int, Query(ge=2, le=MAX_STEPS)] = 9,
    scale: Annotated[int, Query(ge=1, le=MAX_SCALE)] = 1,
) -> Response:
    studies = StudyStore(store)
    detail = studies.detail(study_id)
    target = studies.item(study_id, item)
    try:
        model = registry.get(detail.model_id)
        params = query_from_params(seed, target.set_id, (), window, scale)
        traversal = traversal_query(target.direction, extent, steps)
        frames = build_traversal(model, params, traversal)
        # the key stays on the server: sent as an ETag, it could be recomputed per set from public checksums
        key = make_etag(etag_parts(model, frames.direction_set, "traversal.png", {**params.key(), **traversal.key()}))
        cached = cache.get(key)
        if cached is None:
            cost = traversal.steps * frame_pixels(model, scale)

            def encode(grey: np.ndarray) -> bytes:
                return png_bytes(upscale(strip(grey), scale))

            body = await render_encoded(admission, engine, model, frames.latents, params.window, cost, encode)
            cached = cache.put(key, CachedImage(body, "image/png", {}))
    except LatentCTError as exc:
        raise hide_sets(exc, [s.set_id for s in detail.sets]) from None
    headers = {"X-Shift-Values": ",".join(f"{v:.6g}" for v in frames.values), "Cache-Control": PRIVATE_CACHE}
    return Response(cached.body, media_type="image/png", headers=headers)


@router.post(
    "/studies/{study_id}/items/{item}/label",
    status_code=status.HTTP_201_CREATED,
    response_model=StudyLabelOut,
    responses={
        **ERROR_RESPONSES,
        404: {"description": "unknown study or item"},
        409: {"description": "the study's sets changed since it was created, or the Idempotency-Key was reused"},
    },
    summary="Label an item: a normal blinded label of its direction, linked to the study item",
)
def post_item_label(
    study_id: StudyId,
    item: ItemId,
    body: StudyLabelIn,
    store: LabelStoreDep,
    catalog: CatalogDep,
    annotator: AnnotatorDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> StudyLabelOut:
    context = body.context.model_dump() if body.context is not None else None
    fields = LabelFields(body.term, body.text, body.confidence, body.polarity, body.sign, context)
    label = StudyStore(store).label_item(annotator, study_id, item, catalog, fields, idempotency_key)
    return StudyLabelOut(
        id=label.label_id, study=label.study_id, item=label.item_id, term=label.term, text=label.text,
        confidence=label.confidence, polarity=label.polarity, sign=label.sign, blinded=label.blinded,
        created_at=label.created_at,
        next_item=label.next_item,
    )


@router.get(
    "/studies/{study_id}/results",
    response_model=StudyResultsOut,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"application/json": {}, "text/csv": {}, "image/png": {}}},
        404: {"description": "unknown study"},
    },
    summary="Results per method (admin): JSON, CSV or a PNG bar chart",
)
def get_results(
    study_id: StudyId,
    store: LabelStoreDep,
    registry: RegistryDep,
    _admin: AdminDep,
    export_format: Annotated[Literal["json", "csv", "png"], Query(alias="format")] = "json",
) -> Response | StudyResultsOut:
    studies = StudyStore(store)
    detail = studies.detail(study_id)
    rows = study_results(detail, studies.items(study_id), studies.answers(study_id), _scorecard(registry, detail))
    if export_format == "json":
        return _results_out(detail, rows)
    headers = {
        "Content-Disposition": f'attachment; filename="study-{study_id}-results.{export_format}"',
        "Cache-Control": "no-store",
    }
    if export_format == "csv":
        return Response(results_csv(study_id, rows), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(results_figure(detail.name, rows), media_type="image/png", headers=headers)


def _scorecard(registry: RegistryDep, detail: StudyDetail) -> Scorecard | None:
    """The served model's scorecard; None when the model is not served (results then lack the match column)."""
    get_scorecard = getattr(registry, "get", None)
    try:
        return getattr(get_scorecard(detail.model_id), "scorecard", None) if get_scorecard else None
    except LatentCTError:
        return None


def _results_out(detail: StudyDetail, rows: list[MethodResult]) -> StudyResultsOut:
    return StudyResultsOut(
        study=detail.id,
        name=detail.name,
        model=detail.model_id,
        methods=[StudyMethodOut.model_validate(row, from_attributes=True) for row in rows],
        intended_use=INTENDED_USE,
    )
