"""What every discovery job needs: the model folder loaded for discovery, and images generated from latents."""

from __future__ import annotations

from pathlib import Path

import torch

from latentct.artifacts import LoadedModel, load_model
from latentct.core.errors import ArtifactError


def load_for_discovery(model_dir: Path | str, device: torch.device, with_discriminator: bool = False) -> LoadedModel:
    """The model folder's generator (GAN generator or VAE decoder) in eval mode; the discriminator too when asked."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ArtifactError(f"{model_dir}: model folder not found")
    components = ("generator", "discriminator") if with_discriminator else ("generator",)
    return load_model(model_dir, device=device, components=components)


@torch.no_grad()
def generate(generator: torch.nn.Module, latents: torch.Tensor, device: torch.device, batch_size: int = 64) -> torch.Tensor:
    """Images [N, 1, H, W] in [-1, 1] on the CPU, rendered in batches on `device`."""
    chunks = [generator(latents[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(latents), batch_size)]
    return torch.cat(chunks)
