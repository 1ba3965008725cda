"""POST /encode with files built here: DICOM (through rescale), PNG 8 and 16 bit, .npy; VAE encoder and GAN optimisation."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from latentct.data.ingest import resize_hu
from tests.api.helpers import png_pixels

GAN = "/api/models/tiny-gan"
VAE = "/api/models/tiny-vae"


def thorax_hu(size: int = 64) -> np.ndarray:
    """A crude axial slice in HU: air, a soft-tissue body, two lungs, a spine."""
    y, x = np.mgrid[:size, :size] / size - 0.5
    hu = np.full((size, size), -1000.0, np.float32)
    hu[(x / 0.45) ** 2 + (y / 0.32) ** 2 < 1] = 40.0
    for cx in (-0.18, 0.18):
        hu[((x - cx) / 0.14) ** 2 + (y / 0.22) ** 2 < 1] = -850.0
    hu[(x**2 + (y - 0.2) ** 2) < 0.004] = 700.0
    return hu


def npy_bytes(hu: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, hu)
    return buffer.getvalue()


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def dicom_bytes(hu: np.ndarray, slope: float = 1.0, intercept: float = -1024.0) -> bytes:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("slice.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
    ds.Rows, ds.Columns = hu.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.PixelData = np.round((hu - intercept) / slope).astype(np.int16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def encode(client, path: str, name: str, data: bytes) -> dict:
    response = client.post(f"{path}/encode", files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["latent"]) == 8 and all(math.isfinite(v) for v in body["latent"])
    assert math.isfinite(body["reconstruction_mae_hu"]) and body["reconstruction_mae_hu"] >= 0
    return body


def test_vae_encodes_every_format_with_its_encoder(client) -> None:
    hu = thorax_hu()
    by_npy = encode(client, VAE, "slice.npy", npy_bytes(hu))
    assert by_npy["method"] == "encoder" and by_npy["input_format"] == "npy" and by_npy["steps"] == 0
    by_dicom = encode(client, VAE, "slice.dcm", dicom_bytes(hu))
    assert by_dicom["input_format"] == "dicom"
    np.testing.assert_allclose(by_dicom["latent"], by_npy["latent"], atol=1e-6)  # HU through RescaleSlope/Intercept
    by_dicom_scaled = encode(client, VAE, "slice.dcm", dicom_bytes(hu, slope=2.0, intercept=-2048.0))
    np.testing.assert_allclose(by_dicom_scaled["latent"], by_npy["latent"], atol=1e-6)
    by_png16 = encode(client, VAE, "slice.png", png_bytes((hu + 32768).astype(np.uint16)))
    assert by_png16["input_format"] == "png"
    np.testing.assert_allclose(by_png16["latent"], by_npy["latent"], atol=1e-6)  # 16 bit = HU + 32768
    grey = np.round((np.clip(hu, -1000, 2000) + 1000) / 3000 * 255).astype(np.uint8)
    by_png8 = encode(client, VAE, "slice.png", png_bytes(grey))  # 8 bit: 0..255 over hu_range
    np.testing.assert_allclose(by_png8["latent"], by_npy["latent"], atol=0.05)


def test_non_square_and_odd_sizes_are_resized_like_training_data(client) -> None:
    """What the model sees of a 40 x 100 band of soft tissue: padded to a square with air and resampled to the
    model's size exactly as `latentct data import` prepares training slices (data/ingest.py:resize_hu)."""
    wide = np.full((40, 100), 40.0, np.float32)
    response = client.post(f"{VAE}/encode", params={"images": "true"}, files={"file": ("wide.npy", npy_bytes(wide))})
    assert response.status_code == 200, response.text
    images = response.json()["images"]
    seen = np.asarray(images["original_hu"], np.float32).reshape(images["size"], images["size"])  # row by row
    expected = np.round(np.clip(resize_hu(wide, images["size"]), -1000, 2000))
    assert seen.shape == expected.shape == (images["size"], images["size"])
    np.testing.assert_allclose(seen, expected, atol=1.0)  # whole HU in the answer
    assert seen[0, 0] == -1000 and seen[images["size"] // 2, images["size"] // 2] == pytest.approx(40, abs=1)
    rgb = encode(client, VAE, "rgb.png", png_bytes(np.zeros((20, 20, 3), np.uint8)))  # colour: read as grey, 0 = -1000
    assert rgb["input_format"] == "png"


def test_gan_encodes_by_seeded_latent_optimisation(client) -> None:
    target = client.get(f"{GAN}/image.png", params={"seed": 3}).content  # an image the GAN can make
    first = encode(client, GAN, "made.png", target)
    assert first["method"] == "optimization" and first["steps"] == 150 and first["seconds"] > 0
    again = encode(client, GAN, "made.png", target)
    assert again["latent"] == first["latent"]  # seeded: same image, same latent
    rendered = client.post(f"{GAN}/render", json={"latent": first["latent"]})
    error = np.abs(png_pixels(rendered.content).astype(float) - png_pixels(target).astype(float)).mean() * 3000 / 255
    assert error == pytest.approx(first["reconstruction_mae_hu"], abs=15.0)  # the stated error is the image's error
    other = encode(client, GAN, "slice.npy", npy_bytes(thorax_hu()))
    assert other["method"] == "optimization"
