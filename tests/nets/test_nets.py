"""The paper's networks at tiny widths: shapes, value ranges, argument validation, parameter counts at full size."""

from __future__ import annotations

import pytest
import torch

from latentct.nets import DCGANDiscriminator, DCGANGenerator, ResNetVAE, VAEDecoder, VAEEncoder, build_component
from latentct.nets.vae import count_macs, vae_loss


@pytest.mark.parametrize("image_size", [16, 32, 128])
def test_dcgan_shapes_and_range(image_size: int) -> None:
    g = DCGANGenerator(latent_dim=8, ngf=4, image_size=image_size).eval()
    d = DCGANDiscriminator(ndf=4, image_size=image_size).eval()
    z = torch.randn(3, 8)
    with torch.no_grad():
        image = g(z)
        assert image.shape == (3, 1, image_size, image_size)
        assert image.min() >= -1 and image.max() <= 1
        assert torch.equal(image, g(z[:, :, None, None]))
        assert d(image).shape == (3,)


@pytest.mark.parametrize("image_size", [16, 64])
def test_vae_shapes_and_separate_steps(image_size: int) -> None:
    vae = ResNetVAE(latent_dim=6, base_channels=4, image_size=image_size).eval()
    x = torch.rand(2, 1, image_size, image_size) * 2 - 1
    with torch.no_grad():
        mean, log_var = vae.encode(x)
        assert mean.shape == log_var.shape == (2, 6)
        recon = vae.reconstruct(x)
        assert recon.shape == x.shape and recon.abs().max() <= 1
        assert torch.equal(recon, vae.decode(mean))
    loss, log_mse, kl = vae_loss(recon, x, mean, log_var, beta=0.01)
    assert torch.isclose(loss, log_mse + 0.01 * kl)
    # KL of the prior against itself is zero
    assert vae_loss(x, x + 0.1, torch.zeros(2, 6), torch.zeros(2, 6))[2].item() == pytest.approx(0.0, abs=1e-6)


def test_full_size_parameter_counts_match_the_paper() -> None:
    millions = lambda m: sum(p.numel() for p in m.parameters()) / 1e6  # noqa: E731
    assert millions(DCGANGenerator()) == pytest.approx(45.6, abs=0.1)
    assert millions(VAEEncoder()) == pytest.approx(9.1, abs=0.1)
    assert millions(VAEDecoder()) == pytest.approx(20.9, abs=0.1)


def test_dcgan_init_follows_radford() -> None:
    g = DCGANGenerator(latent_dim=32, ngf=64, image_size=64)
    conv = g.net[0].weight
    bn = g.net[1].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002
    assert abs(bn.mean().item() - 1.0) < 0.01 and bn.std().item() < 0.04
    assert g.net[0].bias is None


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: DCGANGenerator(image_size=100), "image_size must be a power of two"),
        (lambda: DCGANGenerator(ngf=0), "ngf must be an integer"),
        (lambda: VAEDecoder(latent_dim=-1), "latent_dim must be an integer"),
        (lambda: build_component("gan", "generator", {"ngf": 4, "depth": 3}), "unknown arch key"),
        (lambda: build_component("flow", "generator", {}), "kind must be one of"),
        (lambda: build_component("gan", "encoder", {}), "has no 'encoder'"),
    ],
)
def test_bad_arguments_name_the_value(factory, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


def test_wrong_latent_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"latent must have shape \[B, 8\]"):
        DCGANGenerator(latent_dim=8, ngf=4, image_size=16)(torch.randn(2, 9))


def test_mac_count_of_the_generator() -> None:
    # ConvTranspose k4 s2 doubles resolution; at 128 px the four middle layers cost 32768 w^2 each.
    g = DCGANGenerator(latent_dim=32, ngf=32, image_size=128).eval()
    assert count_macs(g, torch.randn(2, 32)) == 32 * 512 * 16 + 4 * 32768 * 32**2 + 64 * 64 * 32 * 16
