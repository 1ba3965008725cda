"""Small helpers for the API tests: decode PNGs, split multipart streams, compute the contract's latent locally."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentct.artifacts import load_direction_set, load_model
from latentct.core.hu import unit_to_hu, window_to_uint8

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_pixels(data: bytes) -> np.ndarray:
    assert data.startswith(PNG_SIGNATURE), data[:16]
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "L", image.mode  # 8-bit greyscale
        return np.asarray(image).copy()


def expected_pixels(
    models_dir: Path, model_id: str, seed: int, shifts: dict[int, float] | None = None, set_id: str | None = None
) -> np.ndarray:
    """What image.png must show with window=full, computed here from the contract's formula."""
    model = load_model(models_dir / model_id)
    z = torch.randn(model.latent_dim, generator=torch.Generator().manual_seed(seed))
    if shifts:
        directions = load_direction_set(models_dir / model_id, set_id or "").directions
        for k in sorted(shifts):
            z = z + torch.tensor(shifts[k], dtype=torch.float32) * directions[k]
    with torch.inference_mode():
        unit = model.generator(z[None])[0, 0].numpy()
    lo, hi = model.hu_range
    return window_to_uint8(unit_to_hu(unit, (lo, hi)), hi - lo, (hi + lo) / 2)


def multipart_parts(body: bytes, boundary: bytes = b"frame") -> list[tuple[dict[str, str], bytes]]:
    """Split a multipart/x-mixed-replace body into (headers, payload) parts; checks the closing delimiter."""
    delimiter = b"--" + boundary
    assert body.startswith(delimiter + b"\r\n"), body[:40]
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n"), body[-40:]
    inner = body[len(delimiter) + 2 : -len(b"\r\n" + delimiter + b"--\r\n")]
    parts = []
    for raw in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, _, payload = raw.partition(b"\r\n\r\n")
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        parts.append((headers, payload))
    return parts


def assert_same_picture(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal up to float rounding: computed in another memory layout or batch size, a pixel may land one grey level off."""
    assert actual.shape == expected.shape
    difference = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert difference.max() <= 1, difference.max()
    assert (difference > 0).mean() <= 0.02, (difference > 0).mean()
