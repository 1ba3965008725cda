"""POST /encode: an uploaded slice (DICOM, PNG, .npy) -> its latent, by the VAE's encoder or GAN latent optimisation."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.requests import HTTPConnection
from starlette.concurrency import run_in_threadpool

from latentct.api.deps import EngineDep, ModelDep, SettingsDep
from latentct.api.schemas import EncodeResponse
from latentct.core.errors import OverloadedError
from latentct.rendering.errors import UploadTooLargeError
from latentct.rendering.inversion import OPT_STEPS, encode_slice, prepare_slice
from latentct.rendering.uploads import read_upload_hu

router = APIRouter(tags=["encode"])

ENCODE_DESCRIPTION = f"""
Upload one slice as multipart field `file`, at most 16 MiB (`LATENTCT_MAX_UPLOAD_BYTES`):

- DICOM (`.dcm`): HU = stored value x RescaleSlope + RescaleIntercept; one frame, one sample per pixel (greyscale),
  BitsAllocated 8, 16 or 32; uncompressed (Implicit/Explicit VR Little Endian, Explicit VR Big Endian), Deflated
  Explicit VR Little Endian (at most 17 MiB inflated) or RLE Lossless (other compressed transfer syntaxes: 415). The
  header is checked before any pixel is decoded;
- PNG: 8-bit grey 0..255 maps linearly onto the model's hu_range (what `window=full` shows); 16-bit values are HU + 32768;
- `.npy`: a 2-D array of HU values.

Sides 8..4096 px. The slice is padded to square with air, resized with Lanczos to the model's image_size and clipped to
its hu_range, as the training data was. A VAE answers with its encoder's mean (`method: encoder`); a GAN by latent
optimisation (`method: optimization`: best of 16 seeded starts, then {OPT_STEPS} Adam steps; deterministic).
Errors: 400 empty or unreadable file, or a header outside these limits; 413 too large; 415 not DICOM/PNG/.npy or a DICOM
transfer syntax not listed; 503 when too many encodes run at once. Error messages name the value and what is allowed.
"""


async def get_encode_slots(connection: HTTPConnection) -> asyncio.Semaphore:
    slots: asyncio.Semaphore = connection.app.state.encode_slots
    return slots


EncodeSlotsDep = Annotated[asyncio.Semaphore, Depends(get_encode_slots)]


@router.post(
    "/models/{model}/encode",
    response_model=EncodeResponse,
    summary="encode an uploaded CT slice into the model's latent space",
    description=ENCODE_DESCRIPTION,
    responses={
        400: {"description": "empty or unreadable file"},
        404: {"description": "unknown model"},
        413: {"description": "file over the upload limit"},
        415: {"description": "not DICOM, PNG or .npy, or a DICOM transfer syntax not taken"},
        503: {"description": "too many encodes at once, or warming up (Retry-After)"},
    },
)
async def encode(
    model: ModelDep,
    engine: EngineDep,
    settings: SettingsDep,
    slots: EncodeSlotsDep,
    file: Annotated[UploadFile, File(description="the slice: .dcm, .png (8/16 bit) or .npy (HU), at most 16 MiB")],
) -> EncodeResponse:
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        limit_mib = settings.max_upload_bytes / (1024 * 1024)
        raise UploadTooLargeError(f"the upload is over the limit of {limit_mib:.3g} MiB ({settings.max_upload_bytes} bytes)")
    if slots.locked():
        raise OverloadedError("too many encodes are running; retry shortly", retry_after_s=5.0)
    async with slots:
        hu, input_format = await run_in_threadpool(read_upload_hu, data, file.filename, model.hu_range)
        image = await run_in_threadpool(prepare_slice, hu, model)
        result = await encode_slice(engine, model, image)
    return EncodeResponse(
        latent=result.latent,
        method=result.method,  # type: ignore[arg-type]
        reconstruction_mae_hu=result.reconstruction_mae_hu,
        steps=result.steps,
        seconds=round(result.seconds, 4),
        input_format=input_format,
    )
