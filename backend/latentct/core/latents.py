"""Latents from seeds, exactly as the REST contract draws them: every package that turns a seed into z comes here.

z = torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed)), float32 on the CPU, so a seed gives the
same latent on every machine and in every tool (the API, discovery, evaluation, exports).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from latentct.core.errors import InvalidInputError

MAX_SEED = 2**31 - 1


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInputError(f"seed {seed!r} must be an integer in 0..{MAX_SEED}")
    return seed


def latent_from_seed(seed: int, latent_dim: int) -> torch.Tensor:
    """z = torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed)): float32 (latent_dim,), CPU."""
    generator = torch.Generator().manual_seed(check_seed(seed))
    return torch.randn(latent_dim, generator=generator, dtype=torch.float32)


def latents_from_seeds(latent_dim: int, seeds: Sequence[int]) -> torch.Tensor:
    """[S, latent_dim] float32 on the CPU, row i drawn exactly as the API draws seed seeds[i]."""
    if not seeds:
        return torch.empty(0, latent_dim)
    return torch.stack([latent_from_seed(int(seed), latent_dim) for seed in seeds])
