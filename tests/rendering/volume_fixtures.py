"""A tiny model folder and a tiny probe that reads a 'z_position' (for the volume tests; research only)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from latentct.artifacts import load_model
from latentct.artifacts.probe import Probe, load_probe, save_probe
from latentct.nets.probe import PhantomProbe
from tests.discovery.conftest import image_statistics, make_lively_model

VOLUME_PROBE_FACTORS = ["z_position", "brightness"]


def train_level_probe(generator: torch.nn.Module, latent_dim: int, out: Path, steps: int = 200) -> Probe:
    """A PhantomProbe whose 'z_position' is the vertical centre of brightness scaled to about [0, 1] over the
    generator's samples, and whose second factor is the mean grey value."""
    torch.manual_seed(0)
    with torch.no_grad():
        z = torch.randn(1536, latent_dim) * 2.5
        images = generator(z)
    stats = image_statistics(images)  # (B, 2): brightness, centre_y
    centre = stats[:, 1]
    level = (centre - centre.quantile(0.02)) / (centre.quantile(0.98) - centre.quantile(0.02))
    targets = torch.stack([level, stats[:, 0]], dim=1)
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
    meta = {"factor_names": VOLUME_PROBE_FACTORS, "factor_mean": mean.tolist(), "factor_std": std.tolist()}
    save_probe(out, net.eval(), meta)
    return load_probe(out)


def make_volume_world(root: Path) -> tuple[Path, Path]:
    """(model folder 'tiny-gan' with set 'random', probe folder '_phantom-probe' beside it) under root/models."""
    models = root / "models"
    model_dir = make_lively_model(models, "tiny-gan", "gan", seed=1)
    model = load_model(model_dir)
    probe_dir = models / "_phantom-probe"
    train_level_probe(model.generator, model.latent_dim, probe_dir)
    return model_dir, probe_dir
