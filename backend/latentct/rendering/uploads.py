"""Uploaded slices -> HU: a DICOM file (RescaleSlope/Intercept), an 8- or 16-bit PNG, or an .npy of HU values.

The format is recognised by its bytes (PNG and NumPy signatures, the DICOM preamble), the file name only helps for
DICOM files written without a preamble. Conventions for PNG, which carries no HU of its own:
- 8-bit: grey 0..255 maps linearly onto the model's hu_range (the inverse of `window=full`, so an image.png from this
  server comes back as what it showed);
- 16-bit: value = HU + 32768 (the DeepLesion convention), so 0..65535 covers -32768..32767 HU.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from PIL import Image

from latentct.rendering.errors import CorruptUploadError, EmptyUploadError, UnsupportedUploadError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NPY_SIGNATURE = b"\x93NUMPY"
DICOM_MAGIC_OFFSET = 128
PNG16_HU_OFFSET = 32768
MIN_SIDE_PX = 8
MAX_SIDE_PX = 4096
MAX_ABS_HU = 100_000.0
FORMATS_HELP = "send one slice as DICOM (.dcm), PNG (8 or 16 bit) or .npy of HU values"


def detect_format(data: bytes, filename: str | None) -> str:
    """'png' | 'npy' | 'dicom'; raises UnsupportedUploadError for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(NPY_SIGNATURE):
        return "npy"
    if data[DICOM_MAGIC_OFFSET : DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "dicom"
    if (filename or "").lower().endswith((".dcm", ".dicom")):
        return "dicom"
    name = filename or "(unnamed)"
    raise UnsupportedUploadError(f"file {name!r} is not a supported image (it starts with {data[:8]!r}); {FORMATS_HELP}")


def _checked_slice(pixels: np.ndarray, source: str) -> np.ndarray:
    """A 2-D finite float32 HU slice of a sensible size (a single-frame 3-D array is squeezed)."""
    if pixels.ndim == 3 and 1 in (pixels.shape[0], pixels.shape[-1]):
        pixels = pixels.reshape([s for s in pixels.shape if s != 1] or [1])
    if pixels.ndim != 2:
        raise CorruptUploadError(f"{source}: expected one 2-D slice, got an array of shape {list(pixels.shape)}")
    h, w = pixels.shape
    if min(h, w) < MIN_SIDE_PX or max(h, w) > MAX_SIDE_PX:
        raise CorruptUploadError(f"{source}: slice of {h}x{w} px; each side must be {MIN_SIDE_PX}..{MAX_SIDE_PX} px")
    hu = pixels.astype(np.float32)
    if not np.isfinite(hu).all():
        raise CorruptUploadError(f"{source}: contains non-finite values (nan or inf)")
    if float(np.abs(hu).max()) > MAX_ABS_HU:
        raise CorruptUploadError(f"{source}: values up to {float(np.abs(hu).max()):g}; HU must stay within +-{MAX_ABS_HU:g}")
    return hu


def _png_hu(data: bytes, hu_range: tuple[float, float]) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            w, h = image.size
            if max(w, h) > MAX_SIDE_PX:  # checked before decoding: a small file can declare a huge image
                raise CorruptUploadError(f"PNG of {w}x{h} px; each side must be {MIN_SIDE_PX}..{MAX_SIDE_PX} px")
            mode = image.mode
            image.load()
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                values = np.asarray(image, dtype=np.float64)
                return _checked_slice(values - PNG16_HU_OFFSET, "16-bit PNG")
            grey = np.asarray(image.convert("L"), dtype=np.float32)  # 8-bit grey; colour via ITU-R 601 luma
    except CorruptUploadError:
        raise
    except Exception as exc:  # untrusted bytes through Pillow's decoders: any failure is a corrupt upload
        raise CorruptUploadError(f"the PNG cannot be decoded ({type(exc).__name__}: {exc})") from None
    lo, hi = hu_range
    return _checked_slice(lo + grey / 255.0 * (hi - lo), f"8-bit PNG ({mode})")


def _npy_header(buffer: io.BytesIO) -> tuple[tuple[int, ...], np.dtype[Any]]:
    version = np.lib.format.read_magic(buffer)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
    return shape, dtype


def _npy_hu(data: bytes) -> np.ndarray:
    try:
        shape, dtype = _npy_header(io.BytesIO(data))
        # numpy allocates the declared shape before reading: check it against what was actually sent
        if dtype.hasobject or int(np.prod(shape, dtype=np.float64)) * max(dtype.itemsize, 1) > len(data):
            raise CorruptUploadError(f"the .npy header declares {list(shape)} {dtype} but the file is {len(data)} bytes")
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except CorruptUploadError:
        raise
    except Exception as exc:  # untrusted bytes through numpy's parser: any failure is a corrupt upload
        raise CorruptUploadError(f"the .npy file cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(array, np.ndarray) or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise CorruptUploadError(f"the .npy array must hold numbers (HU), not {getattr(array, 'dtype', type(array))}")
    if np.iscomplexobj(array):
        raise CorruptUploadError("the .npy array must hold real numbers (HU), not complex ones")
    return _checked_slice(array, ".npy")


def _dicom_hu(data: bytes) -> np.ndarray:
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset: Any = pydicom.dcmread(io.BytesIO(data), force=True)
            if "PixelData" not in dataset:
                raise CorruptUploadError("the DICOM file has no pixel data (PixelData is missing)")
            pixels = np.asarray(dataset.pixel_array, dtype=np.float32)
            slope = float(dataset.get("RescaleSlope", 1.0) or 1.0)
            intercept = float(dataset.get("RescaleIntercept", 0.0) or 0.0)
    except CorruptUploadError:
        raise
    except Exception as exc:  # untrusted bytes through pydicom (and its pixel handlers): any failure is a corrupt upload
        raise CorruptUploadError(f"the DICOM file cannot be read ({type(exc).__name__}: {exc})") from None
    if pixels.ndim == 3 and pixels.shape[0] > 1 and pixels.shape[-1] not in (3, 4):
        raise CorruptUploadError(f"the DICOM file holds {pixels.shape[0]} frames; send a single slice")
    return _checked_slice(pixels * np.float32(slope) + np.float32(intercept), "DICOM")


def read_upload_hu(data: bytes, filename: str | None, hu_range: tuple[float, float]) -> tuple[np.ndarray, str]:
    """Upload bytes -> (HU slice float32 (H, W), format name). Raises an UploadError subclass naming the problem."""
    if not data:
        raise EmptyUploadError(f"the uploaded file {filename or '(unnamed)'!r} is empty; {FORMATS_HELP}")
    kind = detect_format(data, filename)
    if kind == "png":
        return _png_hu(data, hu_range), kind
    if kind == "npy":
        return _npy_hu(data), kind
    return _dicom_hu(data), kind
