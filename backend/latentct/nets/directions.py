"""Direction models: (direction index k, shift eps) -> an additive latent shift eps * d_k, K directions of a latent space.

Every model is used additively, z' = z + eps * d_k, because that is the form LatentCT serves (several sliders add).
`directions()` returns the unit-length rows that are exported as a direction set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from latentct.nets._checks import check_positive


def _check_inputs(direction_index: torch.Tensor, shift: torch.Tensor) -> None:
    if direction_index.dim() != 1 or shift.shape != direction_index.shape:
        raise ValueError(
            f"direction_index and shift must both have shape [B], got {list(direction_index.shape)} and {list(shift.shape)}"
        )


class UnitDirections(nn.Module):
    """K free rows normalised to unit length in every forward pass (Voynov's "proj" made additive)."""

    def __init__(self, count: int, latent_dim: int) -> None:
        super().__init__()
        self.count = check_positive("count", count)
        self.latent_dim = check_positive("latent_dim", latent_dim)
        self.weight = nn.Parameter(torch.randn(count, latent_dim))  # (K, D)

    def directions(self) -> torch.Tensor:
        return F.normalize(self.weight, dim=1)  # (K, D), unit rows

    def forward(self, direction_index: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        _check_inputs(direction_index, shift)
        return shift[:, None] * self.directions()[direction_index]  # (B, D)


class OrthoDirections(nn.Module):
    """K = latent_dim orthonormal rows: Q = exp(A - A^T), a rotation parametrised by a free matrix A.

    torch.linalg.matrix_exp runs on CPU and CUDA alike (the reference code could only build this on CUDA).
    """

    def __init__(self, count: int, latent_dim: int, init_scale: float = 0.01) -> None:
        super().__init__()
        check_positive("latent_dim", latent_dim)
        if count != latent_dim:
            raise ValueError(
                f"the 'ortho' direction model needs K equal to the latent size: K = {count}, latent_dim = {latent_dim}"
            )
        self.count = count
        self.latent_dim = latent_dim
        # A small random A starts near the coordinate axes but breaks their symmetry, as Voynov's code did.
        self.log_rotation = nn.Parameter(init_scale * torch.randn(latent_dim, latent_dim))  # (D, D)

    def directions(self) -> torch.Tensor:
        skew = self.log_rotation - self.log_rotation.T
        return torch.linalg.matrix_exp(skew)  # (K, D), orthonormal rows

    def forward(self, direction_index: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        _check_inputs(direction_index, shift)
        return shift[:, None] * self.directions()[direction_index]


class LinearDirections(nn.Module):
    """K free rows used as they are: the shift is eps * w_k, so a row's length rescales its eps.

    Exported normalised; `norms()` gives the length each row had, i.e. how much one served unit differs from one
    trained unit (served eps = trained eps * norm).
    """

    def __init__(self, count: int, latent_dim: int) -> None:
        super().__init__()
        self.count = check_positive("count", count)
        self.latent_dim = check_positive("latent_dim", latent_dim)
        self.weight = nn.Parameter(torch.randn(count, latent_dim) / latent_dim**0.5)  # (K, D), rows of length ~1

    def norms(self) -> torch.Tensor:
        return self.weight.norm(dim=1)  # (K,)

    def directions(self) -> torch.Tensor:
        return F.normalize(self.weight, dim=1)

    def forward(self, direction_index: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        _check_inputs(direction_index, shift)
        return shift[:, None] * self.weight[direction_index]


DirectionModel = UnitDirections | OrthoDirections | LinearDirections
DIRECTION_MODELS: dict[str, type[DirectionModel]] = {"unit": UnitDirections, "ortho": OrthoDirections, "linear": LinearDirections}


def build_direction_model(name: str, count: int, latent_dim: int) -> DirectionModel:
    """Build a direction model by name; ValueError naming the bad name or an incompatible K."""
    if name not in DIRECTION_MODELS:
        raise ValueError(f"direction model must be one of {sorted(DIRECTION_MODELS)}, got {name!r}")
    return DIRECTION_MODELS[name](count, latent_dim)


def row_norms(model: DirectionModel) -> torch.Tensor:
    """The length of each trained row before export normalisation (ones for unit and ortho)."""
    if isinstance(model, LinearDirections):
        return model.norms().detach()
    return torch.ones(model.count)
