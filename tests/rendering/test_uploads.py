"""Uploaded slices to HU: DICOM through RescaleSlope/Intercept, PNG 8 bit over hu_range, PNG 16 bit = HU + 32768, .npy."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from latentct.rendering.errors import CorruptUploadError, EmptyUploadError, UnsupportedUploadError
from latentct.rendering.uploads import read_upload_hu
from tests.api.test_encode import dicom_bytes, npy_bytes, png_bytes

HU_RANGE = (-1000.0, 2000.0)


def sample_hu() -> np.ndarray:
    return np.linspace(-1024, 1500, 16 * 24, dtype=np.float32).round().reshape(16, 24)


def test_dicom_npy_png16_give_the_same_hu() -> None:
    hu = sample_hu()
    for data, name in [
        (dicom_bytes(hu), "a.dcm"),
        (dicom_bytes(hu, slope=0.5, intercept=-1024), "no-extension"),
        (npy_bytes(hu), "a.npy"),
        (npy_bytes(hu.astype(np.int16)[None]), "a.npy"),  # a single-slice volume is squeezed
        (png_bytes((hu + 32768).astype(np.uint16)), "a.png"),
    ]:
        result, _ = read_upload_hu(data, name, HU_RANGE)
        np.testing.assert_array_equal(result, hu)


def test_png8_maps_grey_onto_hu_range() -> None:
    grey = np.array([[0, 51, 255] * 4] * 12, np.uint8)
    result, kind = read_upload_hu(png_bytes(grey), "x.png", HU_RANGE)
    assert kind == "png"
    np.testing.assert_allclose(result[0, :3], [-1000.0, -400.0, 2000.0], atol=1e-3)


def test_refusals() -> None:
    with pytest.raises(EmptyUploadError):
        read_upload_hu(b"", "x.npy", HU_RANGE)
    with pytest.raises(UnsupportedUploadError, match="DICOM"):
        read_upload_hu(b"GIF89a....", "x.gif", HU_RANGE)
    with pytest.raises(CorruptUploadError, match="one 2-D slice"):
        read_upload_hu(npy_bytes(np.zeros((3, 16, 16))), "x.npy", HU_RANGE)
    header_only = io.BytesIO()
    Image.new("L", (5000, 10)).save(header_only, format="PNG")
    with pytest.raises(CorruptUploadError, match="4096"):
        read_upload_hu(header_only.getvalue(), "x.png", HU_RANGE)
