"""POST /encode?images=true: the prepared slice and its reconstruction in HU; unsupported uploads described in words."""

from __future__ import annotations

import numpy as np
import pytest

from latentct.core.hu import hu_to_unit, unit_to_hu
from latentct.data.ingest import resize_hu
from tests.api.test_encode import GAN, VAE, npy_bytes, thorax_hu


@pytest.mark.parametrize("path", [VAE, GAN])
def test_encode_with_images_answers_the_prepared_slice_and_its_reconstruction(client, path: str) -> None:
    hu = thorax_hu(48)
    plain = client.post(f"{path}/encode", files={"file": ("slice.npy", npy_bytes(hu))})
    assert plain.status_code == 200, plain.text
    assert plain.json()["images"] is None  # the existing answer stays as it was unless asked

    response = client.post(f"{path}/encode", params={"images": "true"}, files={"file": ("slice.npy", npy_bytes(hu))})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["latent"] == plain.json()["latent"]
    images = body["images"]
    size = client.get(path).json()["image_size"]
    assert images["size"] == size
    original = np.array(images["original_hu"], dtype=np.float64).reshape(size, size)
    reconstruction = np.array(images["reconstruction_hu"], dtype=np.float64).reshape(size, size)
    hu_range = tuple(client.get(path).json()["hu_range"])
    expected = unit_to_hu(hu_to_unit(resize_hu(hu, size), hu_range), hu_range)  # padded, resized, clipped as trained
    assert np.abs(original - expected).max() <= 0.51  # whole HU
    # the error the answer states is the one between the two images it returns (up to the rounding to whole HU)
    assert np.abs(reconstruction - original).mean() == pytest.approx(body["reconstruction_mae_hu"], abs=0.5)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.txt", b"hello, this is not an image", 'starts with the text "hello, t"'),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 100, "first bytes are ff d8 ff e0 00 00 00 00 (hex)"),
    ],
)
def test_an_unsupported_upload_is_described_in_words_not_python_bytes(client, name: str, data: bytes, words: str) -> None:
    response = client.post(f"{VAE}/encode", files={"file": (name, data)})
    assert response.status_code == 415, response.text
    detail = response.json()["detail"]
    assert words in detail and f"{len(data)} bytes" in detail and name in detail
    assert "DICOM" in detail and "PNG" in detail and ".npy" in detail  # what is allowed
    assert "b'" not in detail and "\\x" not in detail
