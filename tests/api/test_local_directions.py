"""GET /local-directions over real HTTP: unit, ranked directions at the seed's latent that really change the image
most, rendered back with POST /render; bad input is a 4xx naming the value."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentct.artifacts import load_model
from latentct.core.latents import latent_from_seed


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)), dtype=np.float64)


def test_local_directions_are_unit_ranked_and_change_the_image_most(client, models_dir: Path) -> None:
    response = client.get("/api/models/tiny-gan/local-directions", params={"seed": 3, "count": 8})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 8 and body["seed"] == 3 and body["set"] is None
    assert np.allclose(body["latent"], latent_from_seed(3, 8).numpy(), atol=1e-6)
    directions = np.asarray(body["directions"])
    assert np.allclose(directions @ directions.T, np.eye(8), atol=1e-4)  # an orthonormal basis, like an eigenbasis
    assert body["eigenvalues"] == sorted(body["eigenvalues"], reverse=True)
    # the first direction changes the model's image more than the last one (float images: the tiny model's 8-bit
    # PNGs barely differ), and the latent renders through POST /render
    generator = load_model(models_dir / "tiny-gan").generator
    latent = torch.tensor(body["latent"], dtype=torch.float32)
    with torch.no_grad():
        centre = generator(latent[None])
        changes = [float((generator((latent + 0.5 * torch.tensor(directions[k], dtype=torch.float32))[None]) - centre)
                         .pow(2).sum()) for k in (0, 7)]
    assert changes[0] > changes[1] > 0
    rendered = client.post("/api/models/tiny-gan/render", json={"latent": body["latent"]})
    assert rendered.status_code == 200 and _pixels(rendered.content).shape == (32, 32)


def test_local_directions_follow_the_shifts_and_name_bad_input(client) -> None:
    shifted = client.get("/api/models/tiny-gan/local-directions", params={"seed": 3, "set": "random", "shift": "0:2",
                                                                        "count": 2})
    assert shifted.status_code == 200
    base = latent_from_seed(3, 8)
    assert not np.allclose(shifted.json()["latent"], base.numpy())
    assert client.get("/api/models/tiny-gan/local-directions", params={"count": 0}).status_code == 422
    many = client.get("/api/models/tiny-gan/local-directions", params={"count": 100})
    assert many.status_code == 200 and many.json()["count"] == 8  # at most the latent size
    missing = client.get("/api/models/tiny-gan/local-directions", params={"shift": "0:1"})
    assert missing.status_code == 422 and "`set` is required" in missing.text
    unknown = client.get("/api/models/nope/local-directions")
    assert unknown.status_code == 404
    assert torch.is_tensor(base)


def test_scorecard_is_404_with_a_hint_when_the_model_has_none(client) -> None:
    assert client.get("/api/models/tiny-gan").json()["has_scorecard"] is False
    response = client.get("/api/models/tiny-gan/scorecard")
    assert response.status_code == 404 and "latentct scorecard" in response.json()["detail"]
