"""HTTP routes of clinicians' labels: vocabulary, annotators, label events, agreement and exports (bearer tokens)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from latentct.errors import InvalidInputError, NotFoundError
from latentct.labels.catalog import DirectionCatalog, SetIdentity
from latentct.labels.errors import LabelStoreUnavailableError
from latentct.labels.export import render_export
from latentct.labels.models import (
    MAX_ANNOTATOR_NAME_CHARS,
    MAX_ID_CHARS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    MAX_POLARITY_CHARS,
    MAX_TERM_CHARS,
    MAX_TEXT_CHARS,
)
from latentct.labels.store import (
    MAX_PAGE_SIZE,
    Annotator,
    IdempotencyConflictError,
    Label,
    LabelQuery,
    LabelStore,
    check_text,
    label_to_dict,
)

MAX_INT32 = 2**31 - 1
REPLAYED_HEADER = "Idempotent-Replayed"
# what the OpenAPI schema says of the header; the route checks it itself, so that a bad key gets a readable 422
IDEMPOTENCY_KEY_SCHEMA = {
    "minLength": 1,
    "maxLength": MAX_IDEMPOTENCY_KEY_CHARS,
    "pattern": r"^[!-~]([ -~]*[!-~])?$",
}


def _single_line(value: str) -> str:
    return check_text(value, "value", MAX_TEXT_CHARS, allow_newlines=False)


def _multi_line(value: str) -> str:
    return check_text(value, "text", MAX_TEXT_CHARS, allow_newlines=True)


SingleLine = Annotated[str, AfterValidator(_single_line)]
MultiLine = Annotated[str, AfterValidator(_multi_line)]

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="Annotator token: `Authorization: Bearer <token>`; the first admin token is LATENTCT_ADMIN_TOKEN.",
)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown or revoked bearer token"},
    403: {"description": "the token's role may not do this"},
    503: {"description": "label database unavailable; retry after `Retry-After` seconds"},
}


# schemas ---------------------------------------------------------------------------------------------------


class TermOut(BaseModel):
    id: str
    name: str
    description: str
    requires_text: bool = Field(description="labels with this term must carry free text (e.g. `other`)")


class AnnotatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(
        min_length=1,
        max_length=MAX_ANNOTATOR_NAME_CHARS,
        description=f"1..{MAX_ANNOTATOR_NAME_CHARS} characters",
    )
    role: Literal["annotator", "admin"] = "annotator"


class AnnotatorOut(BaseModel):
    id: int
    name: str
    role: Literal["annotator", "admin"]
    created_at: datetime
    revoked: bool = False


class AnnotatorCreated(BaseModel):
    id: int
    name: str
    role: Literal["annotator", "admin"]
    token: str = Field(description="bearer token; shown this once, stored only as a sha256 hash")


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: SingleLine = Field(min_length=1, max_length=MAX_ID_CHARS, description="model id")
    set: SingleLine = Field(min_length=1, max_length=MAX_ID_CHARS, description="direction set id")
    direction: int = Field(
        strict=True, ge=0, le=MAX_INT32, description="direction index, 0..count-1 of the set"
    )
    term: str = Field(
        min_length=1, max_length=MAX_TERM_CHARS, description="a vocabulary term id (GET /api/vocabulary)"
    )
    text: MultiLine = Field(
        "",
        max_length=MAX_TEXT_CHARS,
        description=f"free text, at most {MAX_TEXT_CHARS} characters; required for `other`",
    )
    confidence: int = Field(strict=True, ge=1, le=5, description="1 (unsure) .. 5 (certain)")
    polarity: SingleLine = Field(
        "",
        max_length=MAX_POLARITY_CHARS,
        description=(
            f"what a positive shift does, free short text of at most {MAX_POLARITY_CHARS} characters, "
            "e.g. `larger`, `rotates clockwise`, `moves caudal`"
        ),
    )
    blinded: bool = Field(
        False, strict=True, description="the annotator did not see others' labels for this set"
    )


class LabelOut(BaseModel):
    id: int
    annotator_id: int
    annotator_name: str
    created_at: datetime = Field(description="UTC")
    model: str
    model_checksum: str
    set: str
    set_checksum: str
    direction: int
    term: str
    text: str
    confidence: int
    polarity: str
    blinded: bool
    current: bool = Field(description="this is the annotator's latest label for the direction")


class DirectionAgreementOut(BaseModel):
    index: int
    n_labels: int
    consensus_term: str | None = Field(description="most chosen term; null without labels or on a tie")
    share: float | None = Field(description="fraction of current labels choosing the top term")


class AgreementOut(BaseModel):
    model: str
    set: str
    set_checksum: str
    directions: list[DirectionAgreementOut]
    fleiss_kappa: float | None = Field(description="null when undefined (no direction with two labels)")
    krippendorff_alpha: float | None = Field(description="nominal; null when undefined")


# dependencies ----------------------------------------------------------------------------------------------


def get_label_store(request: Request) -> LabelStore:
    store = getattr(request.app.state, "label_store", None)
    if store is None:
        raise HTTPException(503, "label store is not configured", headers={"Retry-After": "5"})
    return store  # type: ignore[no-any-return]


def get_catalog(request: Request) -> DirectionCatalog:
    catalog = getattr(request.app.state, "registry", None)
    if catalog is None:
        raise HTTPException(503, "model registry is not loaded", headers={"Retry-After": "5"})
    return catalog  # type: ignore[no-any-return]


StoreDep = Annotated[LabelStore, Depends(get_label_store)]
CatalogDep = Annotated[DirectionCatalog, Depends(get_catalog)]


@contextlib.contextmanager
def _http_errors() -> Iterator[None]:
    """Domain errors of the label layer to the contract's status codes."""
    try:
        yield
    except LabelStoreUnavailableError as exc:
        retry_after = str(max(1, math.ceil(exc.retry_after_s)))
        raise HTTPException(503, str(exc), headers={"Retry-After": retry_after}) from None
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidInputError as exc:
        raise HTTPException(422, str(exc)) from None
    except IdempotencyConflictError as exc:
        raise HTTPException(409, str(exc)) from None


def current_annotator(
    store: StoreDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Annotator:
    if credentials is None:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    with _http_errors():
        annotator = store.authenticate(credentials.credentials)
    if annotator is None:
        raise HTTPException(
            401, "unknown or revoked token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    return annotator


def admin_annotator(annotator: Annotated[Annotator, Depends(current_annotator)]) -> Annotator:
    if not annotator.is_admin:
        raise HTTPException(403, f"annotator {annotator.id} has role {annotator.role!r}; this needs 'admin'")
    return annotator


AnnotatorDep = Annotated[Annotator, Depends(current_annotator)]
AdminDep = Annotated[Annotator, Depends(admin_annotator)]


def _identity(catalog: DirectionCatalog, model_id: str, set_id: str) -> SetIdentity:
    with _http_errors():
        return catalog.direction_set_identity(model_id, set_id)


def _label_out(label: Label) -> LabelOut:
    return LabelOut.model_validate(label_to_dict(label))


# routes ----------------------------------------------------------------------------------------------------


def _encodable(value: Any) -> Any:
    """Copy of a validation error with text that UTF-8 can encode (a lone surrogate would break the 422 itself)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _encodable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(item) for item in value]
    return value


class EncodableErrorsRoute(APIRoute):
    """Route whose validation errors can always be rendered as JSON, whatever the client sent."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(_encodable(list(exc.errors()))) from None

        return route_handler


router = APIRouter(prefix="/api", tags=["labels"], route_class=EncodableErrorsRoute)


@router.get("/vocabulary", response_model=list[TermOut], summary="The label terms")
def get_vocabulary(store: StoreDep) -> list[TermOut]:
    return [
        TermOut(id=term.id, name=term.name, description=term.description, requires_text=term.requires_text)
        for term in store.vocabulary.terms
    ]


@router.post(
    "/annotators",
    status_code=status.HTTP_201_CREATED,
    response_model=AnnotatorCreated,
    responses=ERROR_RESPONSES,
    summary="Add an annotator (admin); the token is shown once",
)
def post_annotator(body: AnnotatorIn, store: StoreDep, _admin: AdminDep) -> AnnotatorCreated:
    with _http_errors():
        annotator, token = store.create_annotator(body.name, body.role)
    return AnnotatorCreated(id=annotator.id, name=annotator.name, role=annotator.role, token=token)  # type: ignore[arg-type]


@router.get(
    "/annotators",
    response_model=list[AnnotatorOut],
    responses=ERROR_RESPONSES,
    summary="All annotators (admin)",
)
def get_annotators(store: StoreDep, _admin: AdminDep) -> list[AnnotatorOut]:
    with _http_errors():
        annotators = store.list_annotators()
    return [AnnotatorOut.model_validate(annotator, from_attributes=True) for annotator in annotators]


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
    store: StoreDep,
    catalog: CatalogDep,
    annotator: AnnotatorDep,
    idempotency_key: Annotated[
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
    ] = None,
) -> LabelOut:
    identity = _identity(catalog, body.model, body.set)
    with _http_errors():
        written = store.write_label(
            annotator,
            identity,
            direction_index=body.direction,
            term=body.term,
            text=body.text,
            confidence=body.confidence,
            polarity=body.polarity,
            blinded=body.blinded,
            idempotency_key=idempotency_key,
        )
    if written.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return _label_out(written.label)


@router.get(
    "/labels", response_model=list[LabelOut], responses=ERROR_RESPONSES, summary="Label events, filtered"
)
def get_labels(
    store: StoreDep,
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
            raise HTTPException(
                403, f"annotators read their own labels only (you are annotator {annotator.id})"
            )
        annotator_id = annotator.id
    query = LabelQuery(
        model_id=model,
        set_id=set_id,
        direction_index=direction,
        annotator_id=annotator_id,
        current_only=current,
        limit=limit,
        offset=offset,
    )
    with _http_errors():
        return [_label_out(label) for label in store.list_labels(query)]


@router.get(
    "/labels/export",
    responses={**ERROR_RESPONSES, 200: {"content": {"text/csv": {}, "application/json": {}}}},
    summary="Every label event as CSV or JSON (admin)",
)
def export_labels(
    store: StoreDep,
    _admin: AdminDep,
    export_format: Annotated[
        Literal["csv", "json"], Query(alias="format", description="csv or json")
    ] = "csv",
) -> Response:
    with _http_errors():
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
    responses={404: {"description": "unknown model or set"}, 503: ERROR_RESPONSES[503]},
    summary="Consensus per direction, Fleiss' kappa and Krippendorff's alpha of a set",
)
def get_agreement(
    model: str, set_id: Annotated[str, Path(alias="set")], store: StoreDep, catalog: CatalogDep
) -> AgreementOut:
    identity = _identity(catalog, model, set_id)
    with _http_errors():
        agreement = store.agreement(identity)
    return AgreementOut(
        model=identity.model_id,
        set=identity.set_id,
        set_checksum=identity.set_checksum,
        directions=[
            DirectionAgreementOut(
                index=direction.index,
                n_labels=direction.consensus.n_labels,
                consensus_term=direction.consensus.term,
                share=direction.consensus.share,
            )
            for direction in agreement.directions
        ],
        fleiss_kappa=agreement.fleiss_kappa,
        krippendorff_alpha=agreement.krippendorff_alpha,
    )
