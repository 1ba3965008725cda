"""Volume endpoints: a synthetic stack along a slice-level direction as NIfTI, a DICOM zip, its measurements, or a reformat;
around a seed's latent (GET) or a given one, e.g. an encoded slice of this same model (POST, one shared body).

Synthetic images for research only, not for clinical use. A volume is rendered on the inference engine's worker (one
job: the shift search, the path, the forward passes and, for json, the measurements) under a ticket of the render
budget sized by its slices, so a volume cannot bypass overload protection; the encoding runs on the budget's lanes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from latentct.api.deps import AdmissionDep, EngineDep, ModelDep, RegistryDep, VolumeParams, VolumeParamsDep, volume_params
from latentct.api.schemas import EncodedBy, VolumeBody, VolumeDirection
from latentct.artifacts.probe import Probe
from latentct.core.errors import ArtifactError, InvalidInputError, NotFoundError
from latentct.labels import LabelStore, LabelStoreUnavailableError, consensus_for_set
from latentct.rendering.admission import RenderAdmission
from latentct.rendering.encoding import png_bytes
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.latents import latent_from_values
from latentct.rendering.nearest import NEAREST_INDEXES, check_probe, served_probe
from latentct.rendering.registry import ModelRegistry, ServedModel
from latentct.rendering.volume_cache import VolumeCache
from latentct.rendering.volume_export import dicom_zip_bytes, nifti_bytes
from latentct.rendering.volume_metrics import measure_volume
from latentct.rendering.volume_reference import (
    nearest_training_patient,
    phantom_training_set,
    reference_description,
    reference_patient,
    reference_volume,
)
from latentct.rendering.volumes import (
    Volume,
    VolumeModel,
    VolumeRequest,
    build_volume,
    reformat,
    slice_direction,
)
from latentct.rendering.windows import parse_window, unit_to_grey

router = APIRouter(tags=["volumes"])

LOCKED_COST = 4  # a locked path runs backward passes too: it takes that many frames' share of the budget per slice
MAX_INDEX = 4096
VOLUME_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/gzip": {}, "application/zip": {}, "application/json": {}},
          "description": "NIfTI (.nii.gz), a zip of one DICOM file per slice, or the measurements and shifts (json)"},
    404: {"description": "unknown model or direction set"},
    422: {"description": "a parameter is out of range, the set has no slice-level direction, or (POST) a bad latent or "
                         "one encoded by another model"},
    503: {"description": "overloaded or warming up (Retry-After)"},
}
VOLUMES = VolumeCache()  # the view asks for one volume three ways at once: json, NIfTI, the reference patient


def _consensus(store: LabelStore | None, registry: ModelRegistry, model_id: str, set_id: str) -> dict[int, str | None] | None:
    """Direction -> the annotators' consensus term, or None when the label store is absent or unreadable."""
    if store is None:
        return None
    try:
        found = consensus_for_set(store, registry.direction_set_identity(model_id, set_id))
    except LabelStoreUnavailableError:
        return None
    return {k: v.get("term") for k, v in found.items()}


async def _render(
    request: Request, model: ServedModel, registry: ModelRegistry, engine: InferenceEngine, params: VolumeParams, measure: bool
) -> tuple[Volume, dict[str, Any]]:
    """The volume built on the engine's worker (or the real phantom patient at its levels, with `reference`), and the
    json fields beside its description: its measurements (when `measure`), or the reference patient."""
    direction_set = model.direction_set(params.set_id)
    store = getattr(request.app.state, "label_store", None)
    consensus = await run_in_threadpool(_consensus, store, registry, model.id, direction_set.id)
    models_dir = Path(request.app.state.settings.models_dir)
    volume_request = VolumeRequest(
        set_id=direction_set.id, directions=direction_set.directions, seed=params.seed, direction=params.direction,
        slices=params.slices, path=params.path, consensus=consensus, scorecard=model.scorecard, latent=params.latent,
        note=params.note,
    )

    key = _volume_key(model, direction_set.checksum, params, consensus)

    def job() -> tuple[Volume, dict[str, Any]]:
        probe = served_probe(models_dir)
        vmodel = VolumeModel.of_served(model)
        volume = VOLUMES.get_or_build(key, lambda: build_volume(vmodel, volume_request, probe))
        if params.reference is not None:
            return _reference(volume, model, models_dir / model.id, params.patient, probe)
        return volume, {"measurements": measure_volume(volume, vmodel, probe) if measure else None}

    return await engine.call(job)


def _volume_key(model: ServedModel, set_checksum: str, params: VolumeParams, consensus: dict[int, str | None] | None
                ) -> tuple[Any, ...]:
    """What decides a volume's slices (the reference patient and the measurements are made from the volume)."""
    base: Any = params.seed if params.latent is None else params.latent.numpy().tobytes()
    labels = tuple(sorted(consensus.items())) if consensus else ()
    return (model.id, model.generator_checksum, set_checksum, params.direction, base, params.slices, params.path,
            params.note, labels)


def _reference(
    volume: Volume, model: ServedModel, model_dir: Path, requested: int | None, probe: Probe | None
) -> tuple[Volume, dict[str, Any]]:
    """The real phantom patient at the generated volume's levels and spacing (by default the training patient nearest
    to the volume), and the json block naming it."""
    training = phantom_training_set({"id": model.id, "data": model.data})  # the card as the registry read it
    nearest = _nearest_patient(volume, model_dir, probe) if requested is None else None
    patient = reference_patient(requested, training, nearest)
    description = {**reference_description(patient, training), "chosen_by": _chosen_by(requested, nearest)}
    return reference_volume(volume, patient, training), {"reference": description}


def _nearest_patient(volume: Volume, model_dir: Path, probe: Probe | None) -> int | None:
    """The training patient nearest to the volume, or None where the model has no usable index (or no probe)."""
    if probe is None:
        return None
    try:
        index = NEAREST_INDEXES.get(model_dir)
        check_probe(index, probe)
    except (NotFoundError, ArtifactError):
        return None
    return nearest_training_patient(volume, index, probe)


def _chosen_by(requested: int | None, nearest: int | None) -> str:
    if requested is not None:
        return "request"
    return "nearest training patient (most slices nearest to it)" if nearest is not None else "default (no nearest index)"


def _cost(model: ServedModel, params: VolumeParams) -> int:
    return params.slices * model.image_size * model.image_size * (LOCKED_COST if params.path == "locked" else 1)


def _description(volume: Volume) -> dict[str, Any]:
    return {
        "set": volume.set_id, "direction": volume.direction, "direction_source": volume.direction_source,
        "path": volume.path, "slices": volume.count, "shifts": volume.shifts, "level_targets": volume.level_targets,
        "slice_spacing_mm": volume.slice_spacing_mm, "pixel_spacing_mm": volume.pixel_spacing_mm, "notes": volume.notes,
    }


async def _admitted(
    request: Request, model: ServedModel, registry: ModelRegistry, engine: InferenceEngine, admission: RenderAdmission,
    params: VolumeParams, measure: bool, encode: Any,
) -> Any:
    """Render under a ticket of the render budget, then encode on its lane; the ticket is given back after."""
    ticket = admission.admit(_cost(model, params))
    try:
        volume, extras = await _render(request, model, registry, engine, params, measure)
    except BaseException:
        ticket.release()
        raise
    return await admission.encode(ticket, lambda: encode(volume, extras))


VolumeFormat = Literal["nii.gz", "dicom-zip", "json"]


@router.get("/models/{model}/volume", response_class=Response, responses=VOLUME_RESPONSES,
            summary="a synthetic volume along a slice-level direction (research only, not for clinical use)")
async def get_volume(
    model: ModelDep, params: VolumeParamsDep, request: Request, registry: RegistryDep, engine: EngineDep,
    admission: AdmissionDep,
    format: Annotated[VolumeFormat, Query(description="nii.gz, dicom-zip or json")] = "nii.gz",
    measurements: Annotated[bool, Query(description="json: measure the stack and its baselines (false: faster)")] = True,
) -> Response:
    return await _volume_response(request, model, registry, engine, admission, params, format, measurements)


@router.post("/models/{model}/volume", response_class=Response, responses=VOLUME_RESPONSES,
             summary="a synthetic volume around a given latent, e.g. an encoded slice (research only)")
async def post_volume(
    model: ModelDep, body: VolumeBody, request: Request, registry: RegistryDep, engine: EngineDep, admission: AdmissionDep,
) -> Response:
    """The GET's volume with the base latent given in the body instead of a seed's (same fields, same formats)."""
    check_encoded_by(model, body.encoded_by)
    latent = latent_from_values(body.latent, model.latent_dim)
    params = await volume_params(body.set, body.direction, 0, body.slices, body.path, body.reference, body.patient)
    note = f"around an encoded slice (model {body.encoded_by.model})" if body.encoded_by else "around a given latent"
    params = replace(params, latent=latent, note=note)
    return await _volume_response(request, model, registry, engine, admission, params, body.format, body.measurements)


def check_encoded_by(model: ServedModel, encoded_by: EncodedBy | None) -> None:
    """A latent encoded by another model (or other weights under the same id) means nothing to this one: 422."""
    if encoded_by is None:
        return
    if encoded_by.model == model.id and encoded_by.generator_checksum == model.generator_checksum:
        return
    raise InvalidInputError(
        f"this slice was encoded by model {encoded_by.model} (generator {encoded_by.generator_checksum[:12]}...), "
        f"not by {model.id} (generator {model.generator_checksum[:12]}...): encode it with {model.id} first"
    )


async def _volume_response(
    request: Request, model: ServedModel, registry: ModelRegistry, engine: InferenceEngine, admission: RenderAdmission,
    params: VolumeParams, format: VolumeFormat, measurements: bool,
) -> Response:
    """The volume (or its reference patient) in `format`: what GET and POST both answer."""

    def encode(volume: Volume, extras: dict[str, Any]) -> tuple[bytes, str, dict[str, str]]:
        reference = extras.get("reference")
        headers = _reference_headers(reference)
        if format == "json":
            body = {**_description(volume), **extras, "intended_use": model.intended_use}
            return json.dumps(body).encode("utf-8"), "application/json", headers
        stem = f"{model.id}-{volume.set_id}-{volume.direction}"
        stem += f"-phantom-patient-{reference['patient']}" if reference else ""
        if format == "dicom-zip":
            return dicom_zip_bytes(volume), "application/zip", {**headers, **_attachment(f"{stem}-dicom.zip")}
        return nifti_bytes(volume), "application/gzip", {**headers, **_attachment(f"{stem}.nii.gz")}

    body, media_type, headers = await _admitted(
        request, model, registry, engine, admission, params, format == "json" and measurements, encode
    )
    return Response(body, media_type=media_type, headers=headers)


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _reference_headers(reference: dict[str, Any] | None) -> dict[str, str]:
    """Which real phantom patient a reference answer shows, in every format (a NIfTI has no room for it)."""
    if reference is None:
        return {}
    chosen = str(reference.get("chosen_by", "")).split(" ")[0]  # request, nearest or default
    return {"X-Reference-Patient": str(reference["patient"]), "X-Reference-Split": str(reference["split"]),
            "X-Reference-Chosen-By": chosen}


@router.get("/models/{model}/volume/reformat.png", response_class=Response, responses=VOLUME_RESPONSES,
            summary="one axial, coronal or sagittal plane of a volume, square pixels, 8-bit PNG")
async def get_reformat(
    model: ModelDep, params: VolumeParamsDep, request: Request, registry: RegistryDep, engine: EngineDep,
    admission: AdmissionDep,
    plane: Annotated[Literal["axial", "coronal", "sagittal"], Query(description="axial, coronal or sagittal")] = "coronal",
    index: Annotated[int | None, Query(ge=0, le=MAX_INDEX, description="slice, row or column; default the middle")] = None,
    window: Annotated[str, Query(max_length=40, description="full, lung, mediastinum, bone or 'W,L'")] = "full",
) -> Response:
    parsed = parse_window(window)

    def encode(volume: Volume, _: dict[str, Any]) -> bytes:
        section = reformat(volume, plane, index)
        return png_bytes(unit_to_grey(section[None], volume.hu_range, parsed)[0])

    body = await _admitted(request, model, registry, engine, admission, params, False, encode)
    return Response(body, media_type="image/png")


@router.get("/models/{model}/volume/direction", response_model=VolumeDirection,
            summary="which direction a volume of the set walks by default, or why none")
async def get_volume_direction(
    model: ModelDep, request: Request, registry: RegistryDep,
    set_id: Annotated[str, Query(alias="set", min_length=1, max_length=64, description="direction set id")],
) -> VolumeDirection:
    """The server's choice for `direction` left out (consensus, else scorecard), without building anything: 200 with
    `direction` null and the reason in `detail` where the set has none (the volume itself would answer 422)."""
    direction_set = model.direction_set(set_id)
    store = getattr(request.app.state, "label_store", None)
    consensus = await run_in_threadpool(_consensus, store, registry, model.id, direction_set.id)
    count = int(direction_set.directions.shape[0])
    try:
        index, source = slice_direction(direction_set.id, count, None, consensus, model.scorecard)
    except InvalidInputError as exc:
        return VolumeDirection(set=direction_set.id, direction=None, direction_source=None, detail=str(exc))
    return VolumeDirection(set=direction_set.id, direction=index, direction_source=source, detail=None)
