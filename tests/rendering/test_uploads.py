"""Uploaded slices to HU: DICOM through RescaleSlope/Intercept, PNG 8 bit over hu_range, PNG 16 bit = HU + 32768, .npy;
DICOM in each accepted transfer syntax, and DICOM decompression bombs refused from their header."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from latentct.rendering.errors import CorruptUploadError, EmptyUploadError, UnsupportedUploadError, UploadError
from latentct.rendering.uploads import PNG_SIGNATURE as PNG_SIGNATURE_BYTES
from latentct.rendering.uploads import read_upload_hu
from tests.api.test_encode import dicom_bytes, npy_bytes, png_bytes
from tests.hardening.dicom_bombs import (
    BOMBS,
    REPEAT_128,
    bare_slice_dataset,
    deflate_bomb,
    rle_file,
    slice_file,
    thorax_hu,
)

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


# DICOM: every accepted transfer syntax, and bombs refused from the header -----------------------------------------


@pytest.mark.parametrize("size", [128, 512])
@pytest.mark.parametrize(
    "syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, RLELossless, DeflatedExplicitVRLittleEndian]
)
def test_dicom_slices_in_each_accepted_transfer_syntax(syntax: str, size: int) -> None:
    hu = thorax_hu(size).round()
    result, kind = read_upload_hu(slice_file(hu, syntax), "slice.dcm", HU_RANGE)
    assert kind == "dicom"
    np.testing.assert_array_equal(result, hu)


def test_dicom_without_file_meta_is_read_with_the_encoding_found() -> None:
    hu = thorax_hu(64).round()
    result, _ = read_upload_hu(bare_slice_dataset(hu), "bare.dcm", HU_RANGE)  # only the file name says DICOM
    np.testing.assert_array_equal(result, hu)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_dicom_bombs_are_refused_before_decoding(name: str) -> None:
    build, status = BOMBS[name]
    expected_error = UnsupportedUploadError if status == 415 else CorruptUploadError
    with pytest.raises(expected_error) as refused:
        read_upload_hu(build(), f"{name}.dcm", HU_RANGE)
    named = r"(Rows|SamplesPerPixel|BitsAllocated|NumberOfFrames|transfer syntax|RLE segment|deflated)"
    assert re.search(named, str(refused.value))


def test_dicom_header_refusals_name_the_value_and_what_is_allowed() -> None:
    cases = {
        "rle-32768x32768": "Rows = 32768; each side must be 8..4096 px",
        "rle-1000-frames": "NumberOfFrames = 1000; send a single slice",
        "rle-4096-rgb": "SamplesPerPixel = 3; a CT slice has 1",
        "rle-4096-64bit": "BitsAllocated = 64; allowed: 8, 16, 32",
        "jpeg-4096": "JPEG Baseline",
    }
    for name, fragment in cases.items():
        with pytest.raises(UploadError, match=re.escape(fragment)):
            read_upload_hu(BOMBS[name][0](), "x.dcm", HU_RANGE)


def test_rle_segments_are_decoded_under_a_cap() -> None:
    plane = 16 * 16
    runs = (REPEAT_128 + b"\x00") * (plane // 128)  # exactly one plane of zeros
    assert read_upload_hu(rle_file(16, 16, [runs, runs]), "x.dcm", HU_RANGE)[0].shape == (16, 16)
    with pytest.raises(CorruptUploadError, match="bytes past the Rows x Columns = 256"):
        read_upload_hu(rle_file(16, 16, [runs * 64, runs]), "x.dcm", HU_RANGE)  # 64 planes in one segment
    with pytest.raises(CorruptUploadError, match="decodes to 128 bytes; Rows x Columns = 256"):
        read_upload_hu(rle_file(16, 16, [runs[:2], runs]), "x.dcm", HU_RANGE)
    with pytest.raises(CorruptUploadError, match="1 segments; BitsAllocated says 2"):
        read_upload_hu(rle_file(16, 16, [runs]), "x.dcm", HU_RANGE)


def test_native_pixel_data_must_match_the_header() -> None:
    data = slice_file(thorax_hu(64).round())
    declared = data.index(b"\xe0\x7f\x10\x00OW") + 8
    short = data[:declared] + (64 * 64).to_bytes(4, "little") + data[declared + 4 : declared + 4 + 64 * 64]
    with pytest.raises(CorruptUploadError, match="PixelData holds 4096 bytes; Rows x Columns x BitsAllocated / 8 = 8192"):
        read_upload_hu(short, "x.dcm", HU_RANGE)


def test_deflate_is_inflated_under_a_cap() -> None:
    with pytest.raises(CorruptUploadError, match="inflates to more than"):
        read_upload_hu(deflate_bomb(4), "x.dcm", HU_RANGE)
    truncated = slice_file(thorax_hu(64).round(), DeflatedExplicitVRLittleEndian)[:-40]
    with pytest.raises(CorruptUploadError, match="deflate"):
        read_upload_hu(truncated, "x.dcm", HU_RANGE)


def test_parser_complaints_carry_no_heap_addresses() -> None:
    not_a_png = PNG_SIGNATURE_BYTES + b"\0" * 64
    with pytest.raises(CorruptUploadError) as refused:
        read_upload_hu(not_a_png, "x.png", HU_RANGE)
    assert "cannot be decoded" in str(refused.value)
    assert not re.search(r"0x[0-9a-fA-F]{6,}|object at", str(refused.value))
