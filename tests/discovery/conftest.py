"""Shared fixtures: tiny model folders and a tiny phantom probe trained here on what the tiny GAN draws."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from latentct.artifacts import load_model, save_direction_set, save_model
from latentct.artifacts.probe import Probe, load_probe, save_probe
from latentct.nets import build_component
from latentct.nets.probe import PhantomProbe
from tests.factories import tiny_arch

PROBE_FACTORS = ["brightness", "centre_of_mass_y"]


def image_statistics(images: torch.Tensor) -> torch.Tensor:
    """Two measurable 'factors' of any image: mean grey value and the vertical centre of its brightness, [B, 2]."""
    weights = (images[:, 0] + 1) / 2  # (B, H, W) in [0, 1]
    rows = torch.arange(images.shape[-2], dtype=torch.float32)[None, :, None]
    centre_y = (weights * rows).sum(dim=(1, 2)) / weights.sum(dim=(1, 2)).clamp(min=1e-6)
    return torch.stack([images.mean(dim=(1, 2, 3)), centre_y], dim=1)


def train_tiny_probe(generator: torch.nn.Module, latent_dim: int, out: Path, steps: int = 200) -> Probe:
    """A real (if small) regressor: a PhantomProbe fitted to the image statistics of the generator's samples.

    Latents are drawn wider than the prior so that traversals (shifted latents) stay inside what it has seen.
    """
    torch.manual_seed(0)
    with torch.no_grad():
        z = torch.randn(1536, latent_dim) * 2.5
        images = generator(z)
    targets = image_statistics(images)
    mean, std = targets.mean(dim=0), targets.std(dim=0)
    net = PhantomProbe(image_size=images.shape[-1], width=4, n_factors=2, feature_dim=16)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(images), (64,))
        loss = F.mse_loss(net(images[idx]), (targets[idx] - mean) / std)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    meta = {"factor_names": PROBE_FACTORS, "factor_mean": mean.tolist(), "factor_std": std.tolist()}
    save_probe(out, net.eval(), meta)
    return load_probe(out)


def make_lively_model(models_dir: Path, model_id: str, kind: str = "gan", image_size: int = 32, seed: int = 0) -> Path:
    """A tiny model whose images actually vary with z: DCGAN init (std 0.02) at 4 channels draws near-constant images,
    so the convolutions are re-drawn wider (std 0.3) before BatchNorm statistics are gathered. Has a 'random' set."""
    torch.manual_seed(seed)
    arch = tiny_arch(kind, image_size)
    components = ("generator", "discriminator") if kind == "gan" else ("generator", "encoder")
    nets = {name: build_component(kind, name, arch) for name in components}
    generator = nets["generator"]
    for module in generator.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.normal_(module.weight, 0.0, 0.3)
    generator.train()
    with torch.no_grad():
        for _ in range(5):
            generator(torch.randn(64, arch["latent_dim"]))
    generator.eval()
    model_dir = Path(models_dir) / model_id
    save_model(model_dir, kind=kind, arch=arch, nets=nets, description=f"lively tiny test {kind}")
    save_direction_set(
        model_dir, "random", torch.randn(4, arch["latent_dim"], generator=torch.Generator().manual_seed(seed)), method="random"
    )
    return model_dir


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models dir with tiny-gan and tiny-vae (latent 8, 32 px) whose images vary with z."""
    root = tmp_path_factory.mktemp("models")
    make_lively_model(root, "tiny-gan", "gan", seed=1)
    make_lively_model(root, "tiny-vae", "vae", seed=2)
    return root


@pytest.fixture(scope="session")
def tiny_probe_dir(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = load_model(tiny_models / "tiny-gan")
    out = tmp_path_factory.mktemp("probe") / "probe"
    train_tiny_probe(model.generator, model.latent_dim, out)
    return out
