"""What the Volume view asks of the API: the real phantom patient beside a volume (`reference=phantom`: same slices and
spacing, its own anatomy, bad patients named; the training set from the model card) and the default direction."""

from __future__ import annotations

import gzip

import httpx
import nibabel as nib
import numpy as np
import pytest

from latentct.core.errors import InvalidInputError
from latentct.rendering.volume_reference import DEFAULT_REFERENCE_PATIENT, phantom_training_set, reference_patient

URL = "/api/models/tiny-gan/volume"
PARAMS = {"set": "random", "direction": 1, "slices": 12}


def _nifti(response: httpx.Response) -> nib.Nifti1Image:
    assert response.status_code == 200, response.text
    return nib.Nifti1Image.from_bytes(gzip.decompress(response.content))


def test_reference_json_has_the_generated_volumes_slices_and_spacing(client: httpx.Client) -> None:
    generated = client.get(URL, params={**PARAMS, "format": "json"})
    reference = client.get(URL, params={**PARAMS, "format": "json", "reference": "phantom"})
    assert generated.status_code == 200 and reference.status_code == 200, reference.text
    gen, ref = generated.json(), reference.json()
    assert ref["slices"] == gen["slices"] == 12
    assert ref["slice_spacing_mm"] == pytest.approx(gen["slice_spacing_mm"])
    assert ref["pixel_spacing_mm"] == pytest.approx(gen["pixel_spacing_mm"])
    assert ref["shifts"] == gen["shifts"]
    assert ref["reference"]["kind"] == "phantom" and ref["reference"]["patient"] == DEFAULT_REFERENCE_PATIENT
    assert "measurements" not in ref and "real phantom patient 0" in ref["notes"][-1]
    assert ref["intended_use"] == "research only, not for clinical use"
    quick = client.get(URL, params={**PARAMS, "format": "json", "measurements": "false"})
    assert quick.status_code == 200 and quick.json()["measurements"] is None and quick.json()["shifts"] == gen["shifts"]


def test_reference_nifti_matches_shape_and_affine_but_not_pixels(client: httpx.Client) -> None:
    generated = _nifti(client.get(URL, params=PARAMS))
    response = client.get(URL, params={**PARAMS, "reference": "phantom", "patient": 3})
    reference = _nifti(response)
    assert "phantom-patient-3" in response.headers["content-disposition"]
    assert response.headers["x-reference-patient"] == "3" and response.headers["x-reference-split"] == "unknown"
    assert reference.shape == generated.shape == (32, 32, 12)
    np.testing.assert_allclose(reference.affine, generated.affine)
    ref_hu = np.asarray(reference.dataobj)
    assert ref_hu.dtype == np.int16 and ref_hu.min() <= -900  # air around the body: a real phantom, not noise
    assert not np.array_equal(ref_hu, np.asarray(generated.dataobj))
    other = np.asarray(_nifti(client.get(URL, params={**PARAMS, "reference": "phantom", "patient": 4})).dataobj)
    assert not np.array_equal(ref_hu, other)


def test_reference_dicom_zip(client: httpx.Client) -> None:
    response = client.get(URL, params={**PARAMS, "reference": "phantom", "format": "dicom-zip"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "phantom-patient-0-dicom.zip" in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"reference": "phantom", "patient": 5000}, "patient 5000 is out of range"),
        ({"reference": "phantom", "patient": -1}, "patient"),
        ({"patient": 2}, "patient 2 needs reference=phantom"),
        ({"reference": "ct"}, "reference"),
    ],
)
def test_bad_reference_is_named(client: httpx.Client, extra: dict[str, object], needle: str) -> None:
    response = client.get(URL, params={**PARAMS, "format": "json", **extra})
    assert response.status_code == 422, response.text
    assert needle in str(response.json()["detail"])


def test_training_set_from_the_model_card() -> None:
    card = {"id": "m", "data": {"source": "phantom", "seed": 0, "patients": 20, "train_slices": 540, "test_slices": 60,
                                "image_size": 32}}
    training = phantom_training_set(card)
    assert training.stated and training.patients == 20 and len(training.test_patients) == 2
    held_out = next(iter(training.test_patients))
    assert training.split_of(held_out) == "test" and reference_patient(held_out, training) == held_out
    assert reference_patient(None, training) == DEFAULT_REFERENCE_PATIENT
    with pytest.raises(InvalidInputError, match=r"patients 0\.\.19"):
        reference_patient(20, training)
    with pytest.raises(InvalidInputError, match="trained on 'dicom' data"):
        phantom_training_set({"id": "m", "data": {"source": "dicom"}})
    assert not phantom_training_set({"id": "m"}).stated


def test_default_direction_says_why_there_is_none(client: httpx.Client) -> None:
    response = client.get(f"{URL}/direction", params={"set": "random"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["direction"] is None and body["direction_source"] is None
    assert "set 'random' has no slice-level direction" in body["detail"]
    assert client.get(f"{URL}/direction", params={"set": "nope"}).status_code == 404
    assert client.get(f"{URL}/direction").status_code == 422  # set is required


def test_the_views_three_requests_build_the_volume_once(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """json, NIfTI and the reference patient of one volume: one build (the view's first load was three)."""
    import latentct.api.routes.volumes as routes

    routes.VOLUMES.clear()
    built: list[int] = []
    real_build = routes.build_volume

    def counting_build(*args: object, **kwargs: object) -> object:
        built.append(1)
        return real_build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(routes, "build_volume", counting_build)
    params = {**PARAMS, "seed": 91}
    description = client.get(URL, params={**params, "format": "json", "measurements": "false"})
    volume = _nifti(client.get(URL, params=params))
    reference = _nifti(client.get(URL, params={**params, "reference": "phantom"}))
    assert description.status_code == 200 and volume.shape == reference.shape
    assert len(built) == 1
    _nifti(client.get(URL, params={**params, "seed": 92}))  # another latent is another volume
    _nifti(client.get(URL, params={**params, "path": "straight", "slices": 13}))
    assert len(built) == 3


def test_the_volume_cache_expires_and_keeps_only_the_newest() -> None:
    from latentct.rendering.volume_cache import VolumeCache

    now = [0.0]
    cache = VolumeCache(entries=2, ttl_s=10.0, clock=lambda: now[0])
    made: list[str] = []

    def build(name: str):  # type: ignore[no-untyped-def]
        return lambda: made.append(name) or name

    assert cache.get_or_build("a", build("a")) == "a" and cache.get_or_build("a", build("a2")) == "a"
    cache.get_or_build("b", build("b"))
    cache.get_or_build("c", build("c"))  # evicts a, the least recently used
    assert cache.get_or_build("a", build("a3")) == "a3"
    now[0] = 11.0  # everything expired
    assert cache.get_or_build("c", build("c2")) == "c2"
    assert made == ["a", "b", "c", "a3", "c2"]
