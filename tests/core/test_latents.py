"""Latents from seeds exactly as the REST contract draws them."""

from __future__ import annotations

import pytest
import torch

from latentct.core.errors import InvalidInputError
from latentct.core.latents import latent_from_seed


def test_latent_from_seed_is_the_contract_formula() -> None:
    z = latent_from_seed(42, 32)
    assert z.dtype == torch.float32 and z.shape == (32,) and z.device.type == "cpu"
    assert torch.equal(z, torch.randn(32, generator=torch.Generator().manual_seed(42)))
    assert torch.equal(latent_from_seed(2**31 - 1, 4), torch.randn(4, generator=torch.Generator().manual_seed(2**31 - 1)))
    for bad in (-1, 2**31, 1.5, True, "3"):
        with pytest.raises(InvalidInputError, match="seed"):
            latent_from_seed(bad, 4)  # type: ignore[arg-type]
