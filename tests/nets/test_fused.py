"""The fused DCGAN generator and VAE decoder compute what the trained networks compute; others are served unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from latentct.nets.dcgan import DCGANGenerator
from latentct.nets.fused import (
    FusedDCGANGenerator,
    FusedVAEDecoder,
    _folded,
    _interleave,
    _interleave_values,
    form_name,
    serving_form,
)
from latentct.nets.vae import VAEDecoder


def trained_like(generator: nn.Module, latent_dim: int, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm affine parameters and running statistics, as after training; then eval mode."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
        generator.train()
        for _ in range(3):
            generator(torch.randn(16, latent_dim))
    return generator.eval()


@pytest.mark.parametrize(("image_size", "ngf", "batch"), [(32, 8, 1), (64, 4, 5), (128, 4, 3)])
def test_fused_dcgan_equals_the_eager_generator(image_size: int, ngf: int, batch: int) -> None:
    generator = trained_like(DCGANGenerator(latent_dim=6, ngf=ngf, image_size=image_size), 6)
    fused = serving_form(generator)
    assert isinstance(fused, FusedDCGANGenerator) and form_name(fused) == "fused"
    z = torch.randn(batch, 6, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = generator(z)
        for layout in (torch.contiguous_format, torch.channels_last):
            got = serving_form(generator.to(memory_format=layout))(z)
            assert got.shape == expected.shape == (batch, 1, image_size, image_size)
            assert torch.allclose(got, expected, atol=1e-5), float((got - expected).abs().max())
        assert torch.allclose(fused(z[:, :, None, None]), expected, atol=1e-5)  # the (B, D, 1, 1) latent form too


def test_fusing_keeps_the_generators_own_weights_and_dtype() -> None:
    generator = trained_like(DCGANGenerator(latent_dim=4, ngf=4, image_size=32), 4)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    fused = serving_form(generator.to(torch.float64))
    assert all(p.dtype == torch.float64 and not p.requires_grad for p in fused.parameters())
    assert all(torch.equal(before[k].to(v.dtype), v) for k, v in generator.state_dict().items())  # not modified in place
    z = torch.randn(2, 4, dtype=torch.float64)
    with torch.inference_mode():
        assert torch.allclose(fused(z), generator(z), atol=1e-12)  # in float64 the two differ only by rounding


@pytest.mark.parametrize(("image_size", "base", "batch"), [(32, 4, 1), (64, 2, 5), (128, 2, 2)])
def test_fused_vae_decoder_equals_the_eager_decoder(image_size: int, base: int, batch: int) -> None:
    """No upsampling, one 2 x 2 convolution per block to the four output phases: the same image to float rounding."""
    decoder = trained_like(VAEDecoder(latent_dim=6, base_channels=base, image_size=image_size), 6, seed=image_size)
    with torch.no_grad():  # biases the paper's init leaves at zero-mean noise: make the skip path's bias matter too
        for block in decoder.blocks:
            block.skip.bias.uniform_(-0.2, 0.2)
    fused = serving_form(decoder)
    assert isinstance(fused, FusedVAEDecoder) and form_name(fused) == "fused"
    z = torch.randn(batch, 6, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        expected = decoder(z)
        got = fused(z)
    assert got.shape == expected.shape == (batch, 1, image_size, image_size)
    assert torch.allclose(got, expected, atol=1e-5), float((got - expected).abs().max())


def test_other_generators_and_layouts_are_not_fused() -> None:
    plain = nn.Sequential(nn.Linear(4, 16), nn.Unflatten(1, (1, 4, 4)), nn.Tanh())
    assert serving_form(plain) is plain and form_name(plain) == "eager"
    strided = VAEDecoder(latent_dim=4, base_channels=4, image_size=32)
    strided.blocks[2].conv2.stride = (2, 2)
    with pytest.raises(ValueError, match="only 3 x 3 convolutions with stride 1 and padding 1"):
        serving_form(strided)
    odd = DCGANGenerator(latent_dim=4, ngf=4, image_size=32)
    odd.net[2] = nn.LeakyReLU(0.2)
    with pytest.raises(ValueError, match="not a DCGAN block at layer 0"):
        serving_form(odd)
    variants = {
        "has a bias": lambda g: setattr(g.net[-2], "bias", nn.Parameter(torch.zeros(1))),
        "groups 2": lambda g: setattr(g.net[3], "groups", 2),
        "dilation \\(2, 2\\)": lambda g: setattr(g.net[3], "dilation", (2, 2)),
        "output_padding \\(1, 1\\)": lambda g: setattr(g.net[-2], "output_padding", (1, 1)),
    }
    for message, change in variants.items():
        generator = DCGANGenerator(latent_dim=4, ngf=4, image_size=32)
        change(generator)
        with pytest.raises(ValueError, match=message):
            serving_form(generator)


@pytest.mark.parametrize(("conv_bias", "affine"), [(True, True), (False, False), (True, False)])
def test_batchnorm_folding_with_conv_bias_and_without_affine(conv_bias: bool, affine: bool) -> None:
    """The folded convolution equals BN(convT(x)) in the branches a DCGAN does not have (conv bias, no affine)."""
    torch.manual_seed(3)
    conv = nn.ConvTranspose2d(6, 5, 4, 2, 1, bias=conv_bias)
    bn = nn.BatchNorm2d(5, affine=affine)
    x = torch.randn(3, 6, 4, 4)
    with torch.no_grad():
        bn.train()
        for _ in range(3):
            bn(conv(torch.randn(8, 6, 4, 4)) * 2 + 1)  # running statistics far from (0, 1)
        bn.eval()
        weight, bias = _folded(conv, bn)
        expected = bn(conv(x))
        got = torch.nn.functional.conv_transpose2d(x, weight, bias, 2, 1)
    assert torch.allclose(got, expected, atol=1e-5), float((got - expected).abs().max())


@pytest.mark.parametrize("kind", ["dcgan", "vae"])
def test_fused_forms_pass_the_generators_gradient_to_z(kind: str) -> None:
    """Voynov's method trains through the frozen generator: the fused form must give z the same gradient."""
    torch.manual_seed(0)
    if kind == "dcgan":
        generator = trained_like(DCGANGenerator(latent_dim=6, ngf=4, image_size=32), 6)
    else:
        generator = trained_like(VAEDecoder(latent_dim=6, base_channels=4, image_size=32), 6, seed=2)
    fused = serving_form(generator)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(7))
    weights = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(8))
    gradients = []
    for net in (generator, fused):
        latent = z.clone().requires_grad_(True)
        (net(latent) * weights).sum().backward()
        gradients.append(latent.grad)
    assert gradients[0] is not None and gradients[1] is not None
    scale = float(gradients[0].abs().max())
    assert scale > 0
    assert torch.allclose(gradients[1], gradients[0], atol=1e-4 * scale), float((gradients[1] - gradients[0]).abs().max())
    assert all(p.grad is None for p in fused.parameters())  # frozen: no weight gradients


@pytest.mark.parametrize("channels", [1, 3])
def test_interleaving_passes_back_the_exact_gradient_of_its_own_values(channels: int) -> None:
    """The phases' interleave has a hand-written backward (one zeroed tensor instead of four): it must be the
    transpose of the forward, checked numerically in float64 and against autograd through the plain slicing."""
    phases = torch.randn(2, 4 * channels, 4, 5, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    phases.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: _interleave(p, channels), (phases,), check_forward_ad=True)
    weights = torch.randn(2, channels, 6, 8, dtype=torch.float64)
    gradients = []
    for interleave in (_interleave, _interleave_values):
        (interleave(phases, channels) * weights).sum().backward()
        assert phases.grad is not None
        gradients.append(phases.grad.clone())
        phases.grad = None
    assert torch.equal(gradients[0], gradients[1])
    with torch.no_grad():
        assert torch.equal(_interleave(phases, channels), _interleave_values(phases, channels))


def test_torch_func_transforms_differentiate_the_fused_forms() -> None:
    """The interleave's own backward keeps the fused forms usable under torch.func (grad, vmap over it, and the
    forward-over-reverse hessian)."""
    generator = trained_like(VAEDecoder(latent_dim=6, base_channels=4, image_size=32), 6, seed=2)
    fused = serving_form(generator)
    z = torch.randn(3, 6, generator=torch.Generator().manual_seed(7))
    latent = z.clone().requires_grad_(True)
    generator(latent).sum().backward()
    assert latent.grad is not None
    by_func = torch.func.grad(lambda x: fused(x).sum())(z)
    per_row = torch.func.vmap(torch.func.grad(lambda x: fused(x[None]).sum()))(z)
    scale = float(latent.grad.abs().max())
    assert torch.allclose(by_func, latent.grad, atol=1e-4 * scale) and torch.allclose(per_row, by_func, atol=1e-6 * scale)
    hessian = torch.func.hessian(lambda x: fused(x[None]).sum())(z[0])  # forward over reverse
    eager_hessian = torch.func.hessian(lambda x: generator(x[None]).sum())(z[0]).detach()
    assert torch.allclose(hessian, eager_hessian, atol=1e-4 * float(eager_hessian.abs().max()))
