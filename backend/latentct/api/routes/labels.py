"""HTTP routes of clinicians' labels: vocabulary, annotators, label events, agreement and exports (bearer tokens).

Like every route module, these raise the label layer's domain errors and leave their statuses to api/errors.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from latentct.api.deps import REPLAYED_HEADER, AdminDep, AnnotatorDep, CatalogDep, IdempotencyKeyHeader, LabelStoreDep
from latentct.api.schemas import (
    MAX_INT32,
    AgreementLabelOut,
    AgreementOut,
    AnnotatorCreated,
    AnnotatorIn,
    AnnotatorOut,
    ConsensusCore,
    DirectionAgreementOut,
    LabelIn,
    LabelOut,
    SingleLine,
    TermOut,
    TiedCategory,
)
from latentct.labels.agreement import DirectionAgreement
from latentct.labels.blinding import consensus_fields, label_detail, may_see
from latentct.labels.errors import PermissionDeniedError
from latentct.labels.export import render_export
from latentct.labels.store import MAX_PAGE_SIZE, Annotator, Label, LabelQuery, label_to_dict
from latentct.labels.tables import MAX_ID_CHARS

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown or revoked bearer token"},
    403: {"description": "the token's role may not do this"},
    503: {"description": "label database unavailable; retry after `Retry-After` seconds"},
}

router = APIRouter(tags=["labels"])


def _label_out(label: Label) -> LabelOut:
    return LabelOut.model_validate(label_to_dict(label))


@router.get("/vocabulary", response_model=list[TermOut], summary="The label terms")
def get_vocabulary(store: LabelStoreDep) -> list[TermOut]:
    return [
        TermOut(
            id=term.id,
            name=term.name,
            description=term.description,
            requires_text=term.requires_text,
            positive=term.positive,
        )
        for term in store.vocabulary.terms
    ]


@router.post(
    "/annotators",
    status_code=status.HTTP_201_CREATED,
    response_model=AnnotatorCreated,
    responses=ERROR_RESPONSES,
    summary="Add an annotator (admin); the token is shown once",
)
def post_annotator(body: AnnotatorIn, store: LabelStoreDep, _admin: AdminDep) -> AnnotatorCreated:
    annotator, token = store.create_annotator(body.name, body.role)
    return AnnotatorCreated(id=annotator.id, name=annotator.name, role=annotator.role, token=token)  # type: ignore[arg-type]


@router.get(
    "/annotators",
    response_model=list[AnnotatorOut],
    responses=ERROR_RESPONSES,
    summary="All annotators (admin)",
)
def get_annotators(store: LabelStoreDep, _admin: AdminDep) -> list[AnnotatorOut]:
    return [AnnotatorOut.model_validate(annotator, from_attributes=True) for annotator in store.list_annotators()]


@router.get(
    "/annotators/me", response_model=AnnotatorOut, responses=ERROR_RESPONSES, summary="Who this token is"
)
def get_me(annotator: AnnotatorDep) -> AnnotatorOut:
    return AnnotatorOut.model_validate(annotator, from_attributes=True)


@router.post(
    "/labels",
    status_code=status.HTTP_201_CREATED,
    response_model=LabelOut,
    responses={
        **ERROR_RESPONSES,
        201: {
            "description": "the stored label; a retry with the same Idempotency-Key and body gets the same label "
            f"again, marked `{REPLAYED_HEADER}: true`",
            "headers": {REPLAYED_HEADER: {"description": "`true` on a replayed answer", "schema": {"type": "string"}}},
        },
        404: {"description": "unknown model, set or direction"},
        409: {"description": "the Idempotency-Key was used before by this annotator with a different body"},
    },
    summary="Store one label event",
)
def post_label(
    body: LabelIn,
    response: Response,
    store: LabelStoreDep,
    catalog: CatalogDep,
    annotator: AnnotatorDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> LabelOut:
    written = store.write_label(
        annotator,
        catalog.direction_set_identity(body.model, body.set),
        direction_index=body.direction,
        term=body.term,
        text=body.text,
        confidence=body.confidence,
        polarity=body.polarity,
        blinded=body.blinded,
        idempotency_key=idempotency_key,
        sign=body.sign,
        context=body.context.model_dump() if body.context is not None else None,
    )
    if written.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return _label_out(written.label)


@router.get(
    "/labels", response_model=list[LabelOut], responses=ERROR_RESPONSES, summary="Label events, filtered"
)
def get_labels(
    store: LabelStoreDep,
    annotator: AnnotatorDep,
    model: Annotated[SingleLine | None, Query(max_length=MAX_ID_CHARS, description="model id")] = None,
    set_id: Annotated[
        SingleLine | None, Query(alias="set", max_length=MAX_ID_CHARS, description="set id")
    ] = None,
    direction: Annotated[int | None, Query(ge=0, le=MAX_INT32, description="direction index")] = None,
    annotator_id: Annotated[
        int | None,
        Query(alias="annotator", ge=1, le=MAX_INT32, description="annotator id (admins only, or self)"),
    ] = None,
    current: Annotated[bool, Query(description="only each annotator's latest label per direction")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_INT32, description="labels to skip (oldest first)")] = 0,
) -> list[LabelOut]:
    if not annotator.is_admin:
        if annotator_id is not None and annotator_id != annotator.id:
            raise PermissionDeniedError(f"annotators read their own labels only (you are annotator {annotator.id})")
        annotator_id = annotator.id
    query = LabelQuery(
        model_id=model,
        set_id=set_id,
        direction_index=direction,
        annotator_id=annotator_id,
        current_only=current,
        outside_studies=not annotator.is_admin,  # a study's labels would name the set and direction it hides
        limit=limit,
        offset=offset,
    )
    return [_label_out(label) for label in store.list_labels(query)]


@router.get(
    "/labels/export",
    responses={**ERROR_RESPONSES, 200: {"content": {"text/csv": {}, "application/json": {}}}},
    summary="Every label event as CSV or JSON (admin)",
)
def export_labels(
    store: LabelStoreDep,
    _admin: AdminDep,
    export_format: Annotated[
        Literal["csv", "json"], Query(alias="format", description="csv or json")
    ] = "csv",
) -> Response:
    body = render_export(store.iter_all_labels(), export_format)
    media_type = "text/csv; charset=utf-8" if export_format == "csv" else "application/json"
    headers = {
        "Content-Disposition": f'attachment; filename="labels.{export_format}"',
        "Cache-Control": "no-store",
    }
    return Response(content=body, media_type=media_type, headers=headers)


@router.get(
    "/models/{model}/directions/{set}/agreement",
    response_model=AgreementOut,
    responses={
        401: ERROR_RESPONSES[401],
        404: {"description": "unknown model or set"},
        503: ERROR_RESPONSES[503],
    },
    summary="Consensus per direction, Fleiss' kappa and Krippendorff's alpha of a set (token; blinded per direction)",
)
def get_agreement(
    model: str,
    set_id: Annotated[str, Path(alias="set")],
    store: LabelStoreDep,
    catalog: CatalogDep,
    viewer: AnnotatorDep,
) -> AgreementOut:
    """Admins see every direction with per-annotator detail; an annotator sees the consensus only of directions
    they labelled (blinding, issue 19). The set-wide statistics name no direction and are shown to both."""
    identity = catalog.direction_set_identity(model, set_id)
    agreement, labels = store.agreement_and_labels(identity)
    return AgreementOut(
        model=identity.model_id,
        set=identity.set_id,
        set_checksum=identity.set_checksum,
        directions=[_direction_agreement(direction, labels, viewer) for direction in agreement.directions],
        fleiss_kappa=agreement.fleiss_kappa,
        krippendorff_alpha=agreement.krippendorff_alpha,
    )


def _direction_agreement(direction: DirectionAgreement, labels: list[Label], viewer: Annotator) -> DirectionAgreementOut:
    """One direction's row as this viewer may see it: consensus fields null unless `may_see`."""
    shown = may_see(direction, viewer)
    labelled = direction.voted(viewer.id)
    row = DirectionAgreementOut(
        index=direction.index,
        n_labels=direction.consensus.n_labels,
        consensus_term=None,
        share=None,
        consensus_hidden=not shown,
        labelled_by_you=labelled,
        n_others=direction.consensus.n_labels - (1 if labelled else 0),
    )
    if not shown:
        return row
    fields = consensus_fields(direction.consensus)
    own = [label for label in labels if label.direction_index == direction.index]
    detail = label_detail(own, viewer)
    return row.model_copy(
        update={
            "consensus_term": fields["term"],
            "share": fields["share"],
            "consensus_sign": fields["sign"],
            "tie": [TiedCategory(**tied) for tied in fields["tie"]],
            "consensus_terms": fields["consensus_terms"],
            "others": ConsensusCore(**consensus_fields(direction.consensus_without(viewer.id))),
            "labels": None if detail is None else [AgreementLabelOut(**item) for item in detail],
        }
    )
