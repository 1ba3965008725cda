"""POST /encode: an uploaded slice (DICOM, PNG, .npy) -> its latent, by the VAE's encoder or GAN latent optimisation."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from latentct.api.deps import EngineDep, HeavySlotsDep, ModelDep, SettingsDep
from latentct.api.schemas import EncodeImages, EncodeResponse
from latentct.core.errors import OverloadedError
from latentct.rendering.errors import UploadTooLargeError
from latentct.rendering.inversion import OPT_SLICE_STEPS, OPT_STEPS, EncodeResult, encode_slice, prepare_slice
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

`?images=true` adds `images`: `{"size", "original_hu", "reconstruction_hu"}`, the slice as prepared and the model's image
of the latent, each size x size whole HU row by row, so a client can show them side by side with their difference.
A client that closes the request stops a GAN optimisation within one slice of {OPT_SLICE_STEPS} steps.
"""


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
    slots: HeavySlotsDep,
    request: Request,
    file: Annotated[UploadFile, File(description="the slice: .dcm, .png (8/16 bit) or .npy (HU), at most 16 MiB")],
    images: Annotated[bool, Query(description="also answer the prepared slice and its reconstruction in HU")] = False,
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
        result = await encode_slice(engine, model, image, cancelled=request.is_disconnected)
    return EncodeResponse(
        latent=result.latent,
        method=result.method,  # type: ignore[arg-type]
        reconstruction_mae_hu=result.reconstruction_mae_hu,
        steps=result.steps,
        seconds=round(result.seconds, 4),
        input_format=input_format,
        images=encode_images(result) if images else None,
        model=model.id,
        generator_checksum=model.generator_checksum,
    )


def encode_images(result: EncodeResult) -> EncodeImages:
    """Both slices of an encoding as whole HU, row by row."""
    return EncodeImages(
        size=int(result.original_hu.shape[0]),
        original_hu=_whole_hu(result.original_hu),
        reconstruction_hu=_whole_hu(result.reconstruction_hu),
    )


def _whole_hu(hu: np.ndarray) -> list[int]:
    values: list[int] = np.rint(hu).astype(np.int32).ravel().tolist()
    return values
