"""What every discovery job needs: the device to run on, the model folder loaded for discovery, latents from seeds."""

from __future__ import annotations

from pathlib import Path

import torch

from latentct.artifacts import LoadedModel, load_model
from latentct.errors import ArtifactError, InvalidInputError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """ "auto" takes CUDA when present, else the CPU; asking for CUDA on a machine without one is an error."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise InvalidInputError(f"device {device!r} is not one of {list(DEVICES)} (or cuda:N)")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r} was asked for but this machine has no CUDA GPU")
    return torch.device(device)


def load_for_discovery(model_dir: Path | str, device: torch.device, with_discriminator: bool = False) -> LoadedModel:
    """The model folder's generator (GAN generator or VAE decoder) in eval mode; the discriminator too when asked."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ArtifactError(f"{model_dir}: model folder not found")
    components = ("generator", "discriminator") if with_discriminator else ("generator",)
    return load_model(model_dir, device=device, components=components)


def latents_from_seeds(latent_dim: int, seeds: list[int]) -> torch.Tensor:
    """[S, latent_dim] float32 on the CPU, row i drawn exactly as the API draws seed seeds[i]."""
    if not seeds:
        return torch.empty(0, latent_dim)
    return torch.stack([torch.randn(latent_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


@torch.no_grad()
def generate(generator: torch.nn.Module, latents: torch.Tensor, device: torch.device, batch_size: int = 64) -> torch.Tensor:
    """Images [N, 1, H, W] in [-1, 1] on the CPU, rendered in batches on `device`."""
    chunks = [generator(latents[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(latents), batch_size)]
    return torch.cat(chunks)
