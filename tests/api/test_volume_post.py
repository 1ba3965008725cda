"""POST /volume (issue 20, item 1): a volume around a given latent (an encoded slice) instead of a seed, the same bytes
as the GET for the seed's latent, bad latents named, and a slice encoded by another model refused in words."""

from __future__ import annotations

import io
import json
import math

import httpx
import numpy as np
import pytest

from latentct.core.latents import latent_from_seed

URL = "/api/models/tiny-gan/volume"
QUERY = {"set": "random", "direction": 1, "slices": 5}


def model_info(client: httpx.Client, model: str) -> dict[str, object]:
    response = client.get(f"/api/models/{model}")
    assert response.status_code == 200, response.text
    info: dict[str, object] = response.json()
    return info


def seed_latent(client: httpx.Client, seed: int, model: str = "tiny-gan") -> list[float]:
    return [float(v) for v in latent_from_seed(seed, int(model_info(client, model)["latent_dim"]))]  # type: ignore[call-overload]


def test_post_with_a_seeds_latent_gives_the_gets_nifti_bytes(client: httpx.Client) -> None:
    got = client.get(URL, params={**QUERY, "seed": 7})
    posted = client.post(URL, json={**QUERY, "latent": seed_latent(client, 7)})
    assert got.status_code == 200 and posted.status_code == 200, posted.text
    assert posted.headers["content-type"] == "application/gzip"
    assert posted.content == got.content  # same latent, same pipeline, same bytes
    other_seed = client.get(URL, params={**QUERY, "seed": 8})
    assert other_seed.content != posted.content  # the latent, not a default seed, built it


def test_post_json_names_the_latent_in_its_notes_and_dicom_works(client: httpx.Client) -> None:
    body = {**QUERY, "latent": seed_latent(client, 3), "format": "json", "measurements": False}
    answer = client.post(URL, json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["notes"][0] == "around a given latent" and answer.json()["slices"] == 5
    dicom = client.post(URL, json={**body, "format": "dicom-zip"})
    assert dicom.status_code == 200 and dicom.headers["content-type"] == "application/zip"


def test_get_is_unchanged(client: httpx.Client) -> None:
    answer = client.get(URL, params={**QUERY, "seed": 3, "format": "json", "measurements": "false"})
    assert answer.status_code == 200 and not any("latent" in note for note in answer.json()["notes"])


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda z: z[:-1], "this model needs exactly latent_dim"),
        (lambda z: [*z[:2], 5000.0, *z[3:]], "latent[2] = 5000.0 must be finite with abs(value) <= 1000"),
        (lambda z: [*z[:1], math.nan, *z[2:]], "'latent[1]': Input should be a finite number; got nan"),
    ],
)
def test_a_bad_latent_is_a_named_422(client: httpx.Client, change: object, needle: str) -> None:
    latent = change(seed_latent(client, 0))  # type: ignore[operator]
    response = client.post(URL, content=json.dumps({**QUERY, "latent": latent}), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert needle in response.json()["detail"]


def test_a_slice_encoded_by_another_model_is_refused_in_words(client: httpx.Client) -> None:
    npy = io.BytesIO()
    np.save(npy, np.full((24, 24), -1000.0, dtype=np.float32))
    encoded = client.post("/api/models/tiny-vae/encode", files={"file": ("slice.npy", npy.getvalue())})
    assert encoded.status_code == 200, encoded.text
    answer = encoded.json()
    vae = model_info(client, "tiny-vae")
    assert answer["model"] == "tiny-vae" and answer["generator_checksum"] == vae["checksum"]
    encoded_by = {"model": answer["model"], "generator_checksum": answer["generator_checksum"]}
    gan = model_info(client, "tiny-gan")
    body = {**QUERY, "latent": answer["latent"], "encoded_by": encoded_by}
    refused = client.post(URL, json=body)
    assert refused.status_code == 422, refused.text
    expected = (f"this slice was encoded by model tiny-vae (generator {str(vae['checksum'])[:12]}...), "
                f"not by tiny-gan (generator {str(gan['checksum'])[:12]}...): encode it with tiny-gan first")
    assert refused.json()["detail"] == expected
    same_id = {"model": "tiny-gan", "generator_checksum": "0" * 64}  # the same name, other weights
    assert client.post(URL, json={**body, "latent": seed_latent(client, 0), "encoded_by": same_id}).status_code == 422
    own = client.post("/api/models/tiny-vae/volume", json={**body, "format": "json", "measurements": False})
    assert own.status_code == 200, own.text
    assert own.json()["notes"][0] == "around an encoded slice (model tiny-vae)"
