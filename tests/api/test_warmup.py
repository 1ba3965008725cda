"""Warm-up: a model whose compiled form fails is served eagerly, not taken out of service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from latentct.api.app import load_and_warm
from latentct.rendering import registry as registry_module
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.registry import ModelRegistry


def test_a_failed_compile_falls_back_to_eager(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(module: torch.nn.Module) -> registry_module.Forward:
        def forward(latents: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("inductor failed")

        return forward

    monkeypatch.setattr(registry_module, "_compiled", broken_compile)
    registry = ModelRegistry(models_dir, torch.device("cpu"), half_precision="off", compile=True)

    async def scenario() -> None:
        engine = InferenceEngine(torch.device("cpu"), max_batch=8, batch_wait_s=0.0).start()
        try:
            await load_and_warm(registry, engine)
        finally:
            await engine.close(5.0)

    asyncio.run(scenario())
    assert registry.ready and not [reason for reason in registry.broken.values() if "warm-up" in reason]
    assert {"tiny-gan", "tiny-vae"} <= {model.id for model in registry.models()}
    for model in registry.models():
        assert model.forward is None and not model.compiled
        assert not model.backend_key.endswith("-compiled")
        assert model.run_forward(torch.zeros(1, model.latent_dim)).shape == (1, 1, model.image_size, model.image_size)
