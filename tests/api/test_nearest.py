"""REST nearest training slice: GET nearest (JSON), POST nearest (a latent), GET nearest.png; 404 without an index,
422 for a bad query, all through a real server on tiny models."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from latentct.artifacts.nearest import load_nearest_index
from latentct.rendering.nearest import training_slice
from latentct.rendering.windows import parse_window, unit_to_grey
from tests.api.conftest import LiveServer, settings_for
from tests.factories import make_tiny_model
from tests.nearest_factory import make_indexed_model

URL = "/api/models/tiny-gan/nearest"
FIELDS = {"patient", "slice", "level", "split", "distance", "percentile", "closer_than_held_out_percent", "matches",
          "feature_space", "rows", "held_out", "data", "recall", "method", "intended_use", "model", "query"}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("nearest-api") / "models"
    make_indexed_model(models, "tiny-gan")
    make_tiny_model(models, "tiny-vae", "vae", seed=2)  # no index
    return models


@pytest.fixture(scope="module")
def client(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    live = LiveServer(settings_for(tmp_path_factory.mktemp("nearest-server"), models_dir)).start()
    try:
        with httpx.Client(base_url=live.base_url, timeout=60) as http:
            yield http
    finally:
        live.stop()


def test_get_nearest_answers_patient_level_distance_and_percentile(client: httpx.Client) -> None:
    response = client.get(URL, params={"seed": 5, "set": "random", "shift": "1:2.5", "k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= FIELDS
    assert body["split"] == "train" and body["intended_use"] == "research only, not for clinical use"
    assert body["query"] == {"seed": 5, "set": "random", "shift": [[1, 2.5]]}
    assert 0 <= int(body["patient"]) < 6 and 0 <= body["slice"] < 8 and 0.0 <= body["level"] <= 1.0
    assert body["distance"] > 0 and 0.0 <= body["percentile"] <= 100.0
    assert body["closer_than_held_out_percent"] == pytest.approx(100.0 - body["percentile"])
    assert len(body["matches"]) == 3 and body["matches"][0]["distance"] == body["distance"]
    assert [m["distance"] for m in body["matches"]] == sorted(m["distance"] for m in body["matches"])
    assert body["feature_space"]["dims"] == 32 and body["rows"] == 40 and body["held_out"] == 8


def test_post_with_the_same_seed_and_shifts_finds_the_same_slice(client: httpx.Client) -> None:
    got = client.get(URL, params={"seed": 5, "set": "random", "shift": "1:2.5"}).json()
    posted = client.post(URL, json={"seed": 5, "set": "random", "shifts": {"1": 2.5}})
    assert posted.status_code == 200, posted.text
    keys = ("patient", "slice", "distance")
    assert {k: posted.json()[k] for k in keys} == {k: got[k] for k in keys}
    latent = client.post(URL, json={"latent": [0.5] * 8})
    assert latent.status_code == 200 and latent.json()["query"]["latent"] is True


def test_nearest_png_is_that_training_slice_in_the_window(client: httpx.Client, models_dir: Path) -> None:
    params = {"seed": 5, "set": "random", "shift": "1:2.5"}
    found = client.get(URL, params=params).json()
    response = client.get(f"{URL}.png", params={**params, "window": "lung", "scale": 2})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["etag"] and response.headers["x-intended-use"] == "research only, not for clinical use"
    png = np.asarray(Image.open(io.BytesIO(response.content)))
    assert png.shape == (64, 64)
    index = load_nearest_index(models_dir / "tiny-gan")
    row = next(r for r in range(len(index)) if (index.patient_name(r), int(index.slice[r])) == (found["patient"], found["slice"]))
    expected = unit_to_grey(training_slice(index, row)[None], (-1000.0, 2000.0), parse_window("lung"))[0]
    np.testing.assert_array_equal(png[::2, ::2], expected)
    again = client.get(f"{URL}.png", params={**params, "window": "lung", "scale": 2},
                       headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/api/models/tiny-vae/nearest", "/api/models/tiny-vae/nearest.png"])
def test_a_model_without_index_is_404_saying_how_to_build_it(client: httpx.Client, path: str) -> None:
    response = client.get(path, params={"seed": 1})
    assert response.status_code == 404
    assert "latentct nearest build --model models/tiny-vae" in response.json()["detail"]


@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        ({"seed": -1}, 422, "seed"),
        ({"shift": "0:1"}, 422, "`set` is required"),
        ({"set": "random", "shift": "0:x"}, 422, "shift"),
        ({"k": 0}, 422, "'k'"),
        ({"k": 11}, 422, "'k'"),
        ({"set": "nosuchset"}, 404, "nosuchset"),
    ],
)
def test_a_bad_query_is_named(client: httpx.Client, params: dict[str, object], status: int, named: str) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == status and named in response.json()["detail"]


def test_a_bad_window_or_latent_is_422(client: httpx.Client) -> None:
    window = client.get(f"{URL}.png", params={"window": "sideways"})
    assert window.status_code == 422 and "sideways" in window.json()["detail"]
    short = client.post(URL, json={"latent": [0.0, 1.0]})
    assert short.status_code == 422 and "8" in short.json()["detail"]
    both = client.post(URL, json={"latent": [0.0] * 8, "seed": 1})
    assert both.status_code == 422 and "exactly one" in both.json()["detail"]


def test_a_volume_of_one_training_patient_has_that_patient_as_its_nearest(models_dir: Path) -> None:
    """The Volume view's real phantom patient: a stack of training patient P's own slices votes for P."""
    from dataclasses import replace

    import torch

    from latentct.artifacts.probe import load_probe
    from latentct.data.phantom_split import one_slice, phantom_split
    from latentct.rendering.volume_reference import nearest_training_patient
    from latentct.rendering.volumes import Volume
    from tests.nearest_factory import TINY_DATA, copy_probe

    index, probe = load_nearest_index(models_dir / "tiny-gan"), load_probe(copy_probe(models_dir))
    split = phantom_split(TINY_DATA)
    template = Volume(images=np.zeros((1, 32, 32), np.float32), latents=torch.zeros(1, 8), shifts=[0.0], direction=0,
                      direction_source="given", set_id="random", path="straight", hu_range=(-1000.0, 2000.0),
                      slice_spacing_mm=4.0, pixel_spacing_mm=3.38)
    for patient in sorted({int(p) for p in index.patient.tolist()})[:3]:
        stack = np.stack([one_slice(split, patient, k)[0] for k in range(split.slices_per_patient)])
        assert nearest_training_patient(replace(template, images=stack), index, probe) == patient


def test_the_volume_reference_defaults_to_the_nearest_training_patient(client: httpx.Client) -> None:
    params = {"set": "random", "direction": 0, "slices": 8, "format": "json", "reference": "phantom"}
    chosen = client.get("/api/models/tiny-gan/volume", params=params)
    assert chosen.status_code == 200, chosen.text
    reference = chosen.json()["reference"]
    assert reference["chosen_by"].startswith("nearest training patient") and reference["split"] == "train"
    asked = client.get("/api/models/tiny-gan/volume", params={**params, "patient": 1}).json()["reference"]
    assert asked["patient"] == 1 and asked["chosen_by"] == "request"
    no_index = client.get("/api/models/tiny-vae/volume", params=params)
    assert no_index.status_code == 200 and no_index.json()["reference"]["chosen_by"].startswith("default")
