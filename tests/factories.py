"""Tiny but real model folders for tests: a GAN and a VAE saved through the artifact functions, with direction sets."""

from __future__ import annotations

from pathlib import Path

import torch

from latentct.artifacts import save_direction_set, save_model
from latentct.nets import build_component

TINY_LATENT_DIM = 8


def tiny_arch(kind: str, image_size: int = 32) -> dict[str, int]:
    if kind == "gan":
        return {"latent_dim": TINY_LATENT_DIM, "ngf": 4, "ndf": 4, "image_size": image_size}
    return {"latent_dim": TINY_LATENT_DIM, "base_channels": 4, "image_size": image_size}


def make_tiny_model(
    models_dir: Path, model_id: str, kind: str = "gan", image_size: int = 32, seed: int = 0, sets: tuple[str, ...] = ("random",)
) -> Path:
    """Save a randomly initialised (seeded) model of `kind` and direction sets named `sets` (K = 4 each)."""
    torch.manual_seed(seed)
    arch = tiny_arch(kind, image_size)
    components = ("generator", "discriminator") if kind == "gan" else ("generator", "encoder")
    nets = {name: build_component(kind, name, arch) for name in components}
    generator = nets["generator"]
    generator.train()
    with torch.no_grad():  # give BatchNorm real running statistics so outputs are not degenerate
        for _ in range(3):
            generator(torch.randn(16, TINY_LATENT_DIM))
    generator.eval()
    model_dir = Path(models_dir) / model_id
    save_model(model_dir, kind=kind, arch=arch, nets=nets, description=f"tiny test {kind}")
    for i, set_id in enumerate(sets):
        directions = torch.randn(4, TINY_LATENT_DIM, generator=torch.Generator().manual_seed(seed * 100 + i))
        save_direction_set(
            model_dir, set_id, directions, method="random", params={"seed": seed * 100 + i},
            direction_metrics=[{"score": float(k)} for k in range(4)],
        )
    return model_dir


def make_tiny_models_dir(root: Path) -> Path:
    """A models directory with one tiny GAN (sets 'random', 'sefa') and one tiny VAE (set 'random')."""
    models_dir = Path(root)
    make_tiny_model(models_dir, "tiny-gan", "gan", seed=1, sets=("random", "sefa"))
    make_tiny_model(models_dir, "tiny-vae", "vae", seed=2, sets=("random",))
    return models_dir
