"""The CUDA paths: serving, precision and training on a GPU, checked against the CPU float32 reference.

Skipped with a reason where torch sees no CUDA device (CI, the development machine); run them on a GPU machine with
`python -m pytest tests/test_cuda.py`. Everything else in the suite pins the CPU.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from latentct.artifacts import load_model
from latentct.core.config import Settings
from latentct.data.phantom import generate_dataset
from latentct.nets.fused import serving_form
from latentct.rendering.registry import half_tolerance_hu, load_served_model, use_strict_float32
from latentct.training.run import run_training
from tests.api.conftest import LiveServer
from tests.factories import TINY_LATENT_DIM, make_tiny_model, make_tiny_models_dir

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; torch sees none here"),
]

CUDA = torch.device("cuda")


def seeded_latents(count: int, latent_dim: int, seed: int = 7) -> torch.Tensor:
    return torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed))


def max_error_hu(served: torch.Tensor, reference: torch.Tensor, hu_range: tuple[float, float]) -> float:
    return float((served.float().cpu() - reference).abs().max()) * (hu_range[1] - hu_range[0]) / 2.0


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_tiny_models_dir(tmp_path_factory.mktemp("cuda-models"))
    make_tiny_model(root, "tiny-gan-128", "gan", image_size=128, seed=4)
    make_tiny_model(root, "tiny-vae-128", "vae", image_size=128, seed=5)
    return root


@pytest.mark.parametrize("model_id", ["tiny-gan", "tiny-vae", "tiny-gan-128", "tiny-vae-128"])
def test_float32_on_cuda_is_the_cpu_image_to_float_rounding(models_dir: Path, model_id: str) -> None:
    reference = load_model(models_dir / model_id)
    served = load_served_model(models_dir / model_id, CUDA, half_precision="off")
    assert served.dtype == torch.float32 and served.backend_key.startswith("cuda-float32")
    z = seeded_latents(16, served.latent_dim)
    with torch.inference_mode():
        expected = reference.generator(z)
        image = served.run_forward(z.to(CUDA))
    # strict float32 is off by rounding only (TF32 convolutions keep 10 mantissa bits)
    assert max_error_hu(image, expected, served.hu_range) < 0.5


@pytest.mark.parametrize("model_id", ["tiny-gan-128", "tiny-vae-128"])
def test_half_precision_on_cuda_is_measured_and_kept_only_within_tolerance(models_dir: Path, model_id: str) -> None:
    reference = load_model(models_dir / model_id)
    served = load_served_model(models_dir / model_id, CUDA, half_precision="auto")
    tolerance = half_tolerance_hu(served.hu_range)
    # float16 keeps these small networks well within one grey level (an H200 measured 0.00 and 0.33 HU)
    assert served.half_error_hu is not None and served.half_error_hu <= tolerance and served.dtype == torch.float16
    z = seeded_latents(64, served.latent_dim, seed=11)  # other seeds than the load-time check
    with torch.inference_mode():
        image = served.run_forward(z.to(CUDA, served.dtype))
        expected = reference.generator(z)
    print(f"{model_id}: {served.dtype}, load-time error {served.half_error_hu:.2f} HU, fresh seeds "
          f"{max_error_hu(image, expected, served.hu_range):.2f} HU, tolerance {tolerance:.2f} HU")
    assert max_error_hu(image, expected, served.hu_range) <= 2 * tolerance


@pytest.mark.parametrize("model_id", ["tiny-gan-128", "tiny-vae-128"])
def test_the_fused_serving_forms_equal_the_eager_networks_on_cuda(models_dir: Path, model_id: str) -> None:
    use_strict_float32(CUDA)  # both sides in float32, whichever test ran first
    generator = load_model(models_dir / model_id, device=CUDA).generator
    fused = serving_form(generator)
    assert fused is not generator
    z = seeded_latents(8, TINY_LATENT_DIM).to(CUDA)
    with torch.inference_mode():
        assert torch.allclose(fused(z), generator(z), atol=1e-4)


def test_the_app_serves_images_strips_and_encodes_on_cuda(models_dir: Path, tmp_path: Path) -> None:
    settings = Settings(models_dir=models_dir, data_dir=tmp_path / "var", device="cuda", half_precision="off")
    live = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            served = {m["id"]: m for m in client.get("/api/models").json()}
            assert served["tiny-gan-128"]["device"].startswith("cuda") and served["tiny-gan-128"]["precision"] == "float32"
            assert client.get("/api/health").json()["engine"]["torch_threads"] == 1  # a GPU's CPU work is small copies
            response = client.get("/api/models/tiny-gan-128/image.png", params={"seed": 3})
            assert response.status_code == 200
            assert Image.open(io.BytesIO(response.content)).size == (128, 128)
            strip = client.get("/api/models/tiny-gan/traversal.png", params={"set": "random", "direction": 1, "steps": 5})
            assert strip.status_code == 200 and Image.open(io.BytesIO(strip.content)).size == (5 * 32, 32)
            buffer = io.BytesIO()
            np.save(buffer, np.full((40, 40), -500.0, np.float32))
            encoded = client.post("/api/models/tiny-vae/encode", files={"file": ("x.npy", buffer.getvalue())})
            assert encoded.status_code == 200, encoded.text
            assert len(encoded.json()["latent"]) == 8
    finally:
        live.stop()


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cuda-data") / "phantom"
    return generate_dataset(path, patients=6, slices_per_patient=8, size=32, seed=5, progress=False)


@pytest.mark.parametrize(("kind", "arch"), [("gan", {"ngf": 4, "ndf": 4}), ("vae", {"base_channels": 4})])
def test_training_on_cuda_makes_a_model_that_loads_on_the_cpu(tiny_data: Path, tmp_path: Path, kind: str, arch: dict) -> None:
    overrides = {"epochs": 1, "batch_size": 8, "device": "cuda", "log_every_steps": 2, "sample_count": 4,
                 "quality_samples": 16, "probe_dir": "none", **arch}
    card = run_training(kind, tiny_data, tmp_path / f"tiny-{kind}", overrides=overrides, progress=False).card
    assert card is not None and card["training"]["device"].startswith("cuda")
    records = [json.loads(line) for line in (tmp_path / f"tiny-{kind}" / "metrics.jsonl").read_text().splitlines()]
    assert records and all(np.isfinite(v) for r in records for v in r.values() if isinstance(v, float))
    loaded = load_model(tmp_path / f"tiny-{kind}")  # on the CPU
    with torch.no_grad():
        image = loaded.generator(torch.randn(2, loaded.latent_dim))
    assert image.shape == (2, 1, 32, 32) and torch.isfinite(image).all()
