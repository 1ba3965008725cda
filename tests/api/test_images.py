"""Image endpoints over real HTTP: the seed contract, shifts, windows, scale, ETags, strips, GIFs, streams, render."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tests.api.helpers import assert_same_picture, expected_pixels, multipart_parts, png_pixels

GAN = "/api/models/tiny-gan"
VAE = "/api/models/tiny-vae"
SIZE = 32  # image_size of the tiny models


def test_image_is_the_contract_latent_through_the_generator(client, models_dir: Path) -> None:
    response = client.get(f"{GAN}/image.png", params={"seed": 1234})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    pixels = png_pixels(response.content)
    assert pixels.shape == (SIZE, SIZE)
    assert_same_picture(pixels, expected_pixels(models_dir, "tiny-gan", 1234))


def test_same_seed_same_bytes_and_etag_then_304(client) -> None:
    first = client.get(f"{VAE}/image.png", params={"seed": 7, "window": "lung"})
    second = client.get(f"{VAE}/image.png", params={"seed": 7, "window": "lung"})
    assert first.content == second.content
    etag = first.headers["etag"]
    assert etag == second.headers["etag"] and etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    cached = client.get(f"{VAE}/image.png", params={"seed": 7, "window": "lung"}, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == etag
    other = client.get(f"{VAE}/image.png", params={"seed": 8, "window": "lung"}, headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_etag_follows_the_normalised_query(client) -> None:
    def etag(**params: object) -> str:
        response = client.get(f"{GAN}/image.png", params=params)
        assert response.status_code == 200, response.text
        return response.headers["etag"]

    assert etag(seed=3, set="sefa", shift=["0:1", "2:-2"]) == etag(seed=3, set="sefa", shift=["2:-2.0", "0:1.0"])
    assert etag(seed=3, set="sefa", shift="1:0") == etag(seed=3, set="sefa")  # a zero shift is no shift
    assert etag(seed=3, set="sefa") != etag(seed=3, set="random")  # set checksums differ
    assert etag(seed=3) != etag(seed=3, window="bone") != etag(seed=3, scale=2)


def test_shifts_change_the_image_additively(client, models_dir: Path) -> None:
    plain = png_pixels(client.get(f"{GAN}/image.png", params={"seed": 5}).content)
    shifted_response = client.get(f"{GAN}/image.png", params={"seed": 5, "set": "sefa", "shift": ["1:8", "3:-6"]})
    shifted = png_pixels(shifted_response.content)
    assert not np.array_equal(plain, shifted)
    assert_same_picture(shifted, expected_pixels(models_dir, "tiny-gan", 5, {1: 8.0, 3: -6.0}, "sefa"))


def test_windows(client) -> None:
    def pixels(window: str) -> np.ndarray:
        response = client.get(f"{GAN}/image.png", params={"seed": 11, "window": window})
        assert response.status_code == 200, response.text
        return png_pixels(response.content)

    full, lung, bone = pixels("full"), pixels("lung"), pixels("bone")
    assert not np.array_equal(full, lung) and not np.array_equal(lung, bone)
    np.testing.assert_array_equal(lung, pixels("1500,-600"))
    np.testing.assert_array_equal(pixels("mediastinum"), pixels("350,50"))
    np.testing.assert_array_equal(full, pixels("3000,500"))  # full = hu_range [-1000, 2000]
    narrow = pixels("1,0")  # a 1 HU window is black or white only
    assert set(np.unique(narrow)) <= {0, 255}


def test_scale_is_nearest_upscaling(client) -> None:
    base = png_pixels(client.get(f"{VAE}/image.png", params={"seed": 2}).content)
    for scale in (2, 8):
        big = png_pixels(client.get(f"{VAE}/image.png", params={"seed": 2, "scale": scale}).content)
        assert big.shape == (SIZE * scale, SIZE * scale)
        np.testing.assert_array_equal(big[::scale, ::scale], base)
        np.testing.assert_array_equal(big, np.repeat(np.repeat(base, scale, 0), scale, 1))


def test_traversal_strip(client) -> None:
    params = {"seed": 9, "set": "sefa", "direction": 2, "steps": 5, "extent": 4, "shift": "0:1.5"}
    response = client.get(f"{GAN}/traversal.png", params=params)
    assert response.status_code == 200, response.text
    strip = png_pixels(response.content)
    assert strip.shape == (SIZE, 5 * SIZE)
    values = [float(v) for v in response.headers["x-shift-values"].split(",")]
    assert values == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable" and response.headers["etag"]
    frames = [strip[:, i * SIZE : (i + 1) * SIZE] for i in range(5)]
    centre = png_pixels(client.get(f"{GAN}/image.png", params={"seed": 9, "set": "sefa", "shift": "0:1.5"}).content)
    assert_same_picture(frames[2], centre)  # the base edit sits under the traversal
    end = png_pixels(client.get(f"{GAN}/image.png", params={"seed": 9, "set": "sefa", "shift": ["0:1.5", "2:4"]}).content)
    assert_same_picture(frames[4], end)
    assert len({f.tobytes() for f in frames}) > 1
    default = client.get(f"{GAN}/traversal.png", params={"set": "sefa", "direction": 0})
    assert png_pixels(default.content).shape == (SIZE, 9 * SIZE) and len(default.headers["x-shift-values"].split(",")) == 9
    scaled = client.get(f"{GAN}/traversal.png", params={"set": "sefa", "direction": 0, "steps": 3, "scale": 2})
    assert png_pixels(scaled.content).shape == (2 * SIZE, 3 * 2 * SIZE)


def test_traversal_gif_plays_forth_and_back(client) -> None:
    steps = 6
    query = {"seed": 4, "set": "sefa", "direction": 1, "steps": steps}
    response = client.get(f"{GAN}/traversal.gif", params={**query, "fps": 20})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(response.content)) as gif:
        frames, durations = [], []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("L")).copy())
            durations.append(gif.info["duration"])
        assert gif.info.get("loop") == 0
    strip = png_pixels(client.get(f"{GAN}/traversal.png", params=query).content)
    distinct = [strip[:, i * SIZE : (i + 1) * SIZE] for i in range(steps)]
    order = [*range(steps), *range(steps - 2, 0, -1)]
    merged = [order[0]] + [b for a, b in itertools.pairwise(order) if not np.array_equal(distinct[a], distinct[b])]
    assert len(frames) == len(merged)  # 2 * steps - 2 unless identical neighbours were merged
    assert sum(durations) == 50 * len(order)  # 20 fps = 50 ms per frame, merged or not
    for frame, index in zip(frames, merged, strict=True):
        np.testing.assert_array_equal(frame, distinct[index])


def test_traversal_stream_multipart(client) -> None:
    params = {"seed": 4, "set": "sefa", "direction": 1, "steps": 3, "fps": 30, "loops": 2}
    response = client.get(f"{GAN}/traversal/stream", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
    assert response.headers["cache-control"] == "no-store"
    parts = multipart_parts(response.content)
    assert len(parts) == 2 * (2 * 3 - 2)
    still = {k: v for k, v in params.items() if k not in ("fps", "loops")}
    strip = png_pixels(client.get(f"{GAN}/traversal.png", params=still).content)
    for (headers, payload), index in zip(parts, [0, 1, 2, 1] * 2, strict=True):
        assert headers == {"Content-Type": "image/png"}
        np.testing.assert_array_equal(png_pixels(payload), strip[:, index * SIZE : (index + 1) * SIZE])


def test_stream_chunks_end_with_the_next_parts_headers(server) -> None:
    """Read the raw chunks: each frame's chunk must already carry the next boundary (Chromium shows parts on time)."""
    import httpx

    with httpx.Client(base_url=server.base_url, timeout=30) as http, http.stream(
        "GET", f"{GAN}/traversal/stream", params={"set": "sefa", "direction": 0, "steps": 2, "fps": 5}
    ) as response:
        chunks = [chunk for chunk in response.iter_raw() if chunk]
    body = b"".join(chunks)
    assert body.count(b"\x89PNG") == 2
    first_png_end = body.index(b"IEND") + 8
    after = body[first_png_end:]
    assert after.startswith(b"\r\n--frame\r\nContent-Type: image/png\r\n\r\n\x89PNG")


def test_render_latent_and_seed(client, models_dir: Path) -> None:
    seed_image = client.get(f"{VAE}/image.png", params={"seed": 21, "set": "random", "shift": "0:3", "window": "bone"})
    z = torch.randn(8, generator=torch.Generator().manual_seed(21)).tolist()
    by_latent = client.post(f"{VAE}/render", json={"latent": z, "set": "random", "shifts": {"0": 3}, "window": "bone"})
    by_seed = client.post(f"{VAE}/render", json={"seed": 21, "set": "random", "shifts": {"0": 3.0}, "window": "bone"})
    assert by_latent.status_code == by_seed.status_code == 200, by_latent.text
    assert by_latent.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(png_pixels(by_latent.content), png_pixels(seed_image.content))
    np.testing.assert_array_equal(png_pixels(by_seed.content), png_pixels(seed_image.content))
    scaled = client.post(f"{VAE}/render", json={"latent": [0.5] * 8, "scale": 3})
    assert png_pixels(scaled.content).shape == (3 * SIZE, 3 * SIZE)
    plain = client.post(f"{GAN}/render", json={"seed": 77})
    assert_same_picture(png_pixels(plain.content), expected_pixels(models_dir, "tiny-gan", 77))
