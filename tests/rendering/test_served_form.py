"""The inference engine runs the fused form of a served generator (nets/fused.py), within float rounding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import torch

from latentct.nets.fused import FusedDCGANGenerator
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.registry import load_served_model
from tests.factories import make_tiny_model


def test_the_engine_serves_the_fused_form_within_float_rounding(tmp_path: Path) -> None:
    make_tiny_model(tmp_path, "gan", "gan", seed=4)
    served = load_served_model(tmp_path / "gan", torch.device("cpu"), half_precision="off")
    assert isinstance(served.form, FusedDCGANGenerator) and served.backend_key.endswith("-fused")
    z = torch.randn(5, served.latent_dim, generator=torch.Generator().manual_seed(2))

    async def render() -> np.ndarray:
        engine = InferenceEngine(torch.device("cpu")).start()
        try:
            return await engine.generate(served, z)
        finally:
            await engine.close()

    with torch.inference_mode():
        eager = served.generator(z)[:, 0].numpy()
    np.testing.assert_allclose(asyncio.run(render()), eager, atol=1e-5)
