"""Serving forms of the generators: the same function as the trained network, computed with fewer passes over memory.

`serving_form(generator)` returns what the inference engine runs. For the paper's DCGAN generator that is
`FusedDCGANGenerator`:
- each eval-mode BatchNorm is folded into the ConvTranspose before it (a per-channel scale of the weights and a bias),
  so a block is one convolution and an in-place ReLU instead of three passes over the activations;
- the last layer (to one channel) is a 2 x 2 convolution to its four output phases (row and column parity),
  interleaved, instead of a ConvTranspose: oneDNN's transposed convolution to a single output channel runs at a few
  GFLOP/s, and on the demo GAN it took 18 % of the forward time for 1.5 % of its multiply-adds (0.39 ms per image;
  as a matrix product and an overlap-add 0.13 ms; as phases 0.09 ms). The middle layers stay transposed
  convolutions: as phases they measured 6-18 % slower.
Demo GAN, batch 8, one CPU thread: 1.95-2.13 ms per image eager, 1.68 ms fused (the last layer as a matrix product:
1.75; torch.compile of the eager network with frozen weights: 2.08).

For the ResNet-VAE decoder it is `FusedVAEDecoder`: each up block without its upsampling (see `FusedResidualUp`),
BatchNorm folded, the skip and main convolutions as one. Demo VAE, one CPU thread: 3.30 ms per image eager, 1.30 ms
fused at 16 rows; 3.00 and 2.26 ms for a single image.

The outputs equal the eager networks' up to float32 rounding (about 1e-6 of the [-1, 1] range), which is why the
render backend key, and so every ETag, names the form. Other generators are served as they are.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentct.nets.dcgan import DCGANGenerator
from latentct.nets.vae import LEAKY_SLOPE, ResidualUp, VAEDecoder, _double


class FusedDCGANGenerator(nn.Module):
    """z [B, latent_dim] -> image [B, 1, H, W] in [-1, 1], equal to the DCGANGenerator it was built from (eval mode)."""

    def __init__(self, generator: DCGANGenerator) -> None:
        super().__init__()
        self.latent_dim = generator.latent_dim
        blocks, last = _conv_bn_blocks(list(generator.net))
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.geometry: list[tuple[int, int]] = []  # (stride, padding) per block
        for conv, bn in blocks:
            weight, bias = _folded(conv, bn)
            self.weights.append(nn.Parameter(weight.contiguous(memory_format=torch.channels_last), requires_grad=False))
            self.biases.append(nn.Parameter(bias, requires_grad=False))
            self.geometry.append((_single(conv.stride), _single(conv.padding)))
        self.last_channels = int(last.weight.shape[1])
        self.last_weight = nn.Parameter(
            _phase_kernels(last.weight.detach().transpose(0, 1), _TRANSPOSED_TAPS).contiguous(memory_format=torch.channels_last),
            requires_grad=False,
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], self.latent_dim, 1, 1)
        for weight, bias, (stride, padding) in zip(self.weights, self.biases, self.geometry, strict=True):
            x = torch.relu_(F.conv_transpose2d(x, weight, bias, stride, padding))
        return torch.tanh(self._last_layer(x))

    def _last_layer(self, x: torch.Tensor) -> torch.Tensor:
        """The 4 x 4, stride 2 ConvTranspose2d as a 2 x 2 convolution to its four output phases, interleaved."""
        return _interleave(F.conv2d(x, self.last_weight, None, padding=1), self.last_channels)


class FusedResidualUp(nn.Module):
    """ResidualUp (eval mode) without the upsampling: the same output from the low-resolution input.

    The block computes lrelu(conv_s(up(x)) + bn2(conv2(up(h)))) with h = lrelu(bn1(conv1(x))) and up = nearest 2x.
    The two convolutions of upsampled inputs are one convolution of up(concat(x, h)), and a 3 x 3 convolution of a
    nearest-upsampled image is, for each of the four output phases (row and column parity), a 2 x 2 convolution of
    the image itself. So: conv1 (BatchNorm folded), concat, one 2 x 2 convolution (padding 1) to the four phases'
    channels, then the phases interleaved: 16 instead of 36 multiply-adds per output pixel and input channel, no
    upsampled tensor and no separate BatchNorm or sum.
    """

    def __init__(self, block: ResidualUp) -> None:
        super().__init__()
        for conv in (block.skip, block.conv1, block.conv2):
            _plain_3x3(conv)
        if block.resample is not _double:
            raise ValueError("only nearest-neighbour doubling (ResidualUp) is fused")
        weight1, bias1 = _folded(block.conv1, block.bn1, out_axis=0)
        weight2, bias2 = _folded(block.conv2, block.bn2, out_axis=0)
        skip_bias = block.skip.bias if block.skip.bias is not None else torch.zeros_like(bias2)
        joint = torch.cat([block.skip.weight.detach(), weight2], dim=1)  # over concat(x, h): (out, in + mid, 3, 3)
        self.out_channels = int(joint.shape[0])
        self.weight1 = nn.Parameter(weight1.contiguous(memory_format=torch.channels_last), requires_grad=False)
        self.bias1 = nn.Parameter(bias1, requires_grad=False)
        self.phase_weight = nn.Parameter(
            _phase_kernels(joint, _UPSAMPLED_TAPS).contiguous(memory_format=torch.channels_last), requires_grad=False
        )
        self.phase_bias = nn.Parameter((skip_bias.detach() + bias2).repeat(4), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(F.conv2d(x, self.weight1, self.bias1, padding=1), LEAKY_SLOPE)
        phases = F.conv2d(torch.cat([x, h], dim=1), self.phase_weight, self.phase_bias, padding=1)  # (n, 4 out, H+1, W+1)
        return F.leaky_relu(_interleave(phases, self.out_channels), LEAKY_SLOPE)


class FusedVAEDecoder(nn.Module):
    """z [B, latent_dim] -> image [B, 1, H, W] in [-1, 1], equal to the VAEDecoder it was built from (eval mode)."""

    def __init__(self, decoder: VAEDecoder) -> None:
        super().__init__()
        self.latent_dim = decoder.latent_dim
        blocks = []
        for block in decoder.blocks:
            if not isinstance(block, ResidualUp):
                raise ValueError(f"not a ResidualUp block: {type(block).__name__}")
            blocks.append(FusedResidualUp(block))
        self.blocks = nn.Sequential(*blocks)
        out = _plain_3x3(decoder.out)
        self.out_weight = nn.Parameter(out.weight.detach().contiguous(memory_format=torch.channels_last), requires_grad=False)
        self.out_bias: nn.Parameter | None = None
        if out.bias is not None:
            self.out_bias = nn.Parameter(out.bias.detach().clone(), requires_grad=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z.reshape(z.shape[0], self.latent_dim, 1, 1).contiguous(memory_format=torch.channels_last)
        return torch.tanh(F.conv2d(self.blocks(x), self.out_weight, self.out_bias, padding=1))


# A 2 x 2 convolution with padding 1 has its window at output row t over input rows t - 1 and t (taps 0 and 1); the
# four phases of an output (row and column parity) are interleaved by `_interleave`, phase p at t = i + p for output
# row 2i + p. These tables say, per phase and 2 x 2 tap, which taps of the original kernel add up there.
#
# A ConvTranspose2d with kernel 4, stride 2, padding 1 writes output row 2i from input rows i - 1 (kernel row 3) and
# i (row 1), and row 2i + 1 from rows i (row 2) and i + 1 (row 0).
_TRANSPOSED_TAPS = (((3,), (1,)), ((2,), (0,)))
# A 3 x 3 convolution (padding 1) of a nearest-doubled image reads, for output row 2i, input rows i - 1, i, i (kernel
# rows 0, 1, 2), and for row 2i + 1 rows i, i, i + 1.
_UPSAMPLED_TAPS = (((0,), (1, 2)), ((0, 1), (2,)))


def _phase_kernels(weight: torch.Tensor, taps: tuple[tuple[tuple[int, ...], ...], ...]) -> torch.Tensor:
    """(out, in, k, k) kernel -> (4 * out, in, 2, 2) 2 x 2 kernels of the four phases, (row, col) major; in float64."""
    out_channels, in_channels = weight.shape[:2]
    kernels = torch.zeros(2, 2, out_channels, in_channels, 2, 2, dtype=torch.float64, device=weight.device)
    for row_phase in (0, 1):
        for col_phase in (0, 1):
            for ty in (0, 1):
                for tx in (0, 1):
                    for ky in taps[row_phase][ty]:
                        for kx in taps[col_phase][tx]:
                            kernels[row_phase, col_phase, :, :, ty, tx] += weight[:, :, ky, kx].double()
    return kernels.reshape(4 * out_channels, in_channels, 2, 2).to(weight.dtype)


def _interleave(phases: torch.Tensor, out_channels: int) -> torch.Tensor:
    """(n, 4 * C, H + 1, W + 1) phase outputs (channels-last) -> (n, C, 2H, 2W): out[2i + a, 2j + b] = phase (a, b)
    at (i + a, j + b). Works on the NHWC layout, so every copy moves whole channel vectors. With a gradient to pass
    back (Voynov's method trains through the generator) it runs as `_Interleave`, whose backward writes each phase's
    gradient once into one zeroed tensor; autograd's own backward of the four offset slices zero-fills and sums four
    tensors of the phases' full size (a quarter of a Voynov step's time on the demo VAE, bench/bench_discovery.py)."""
    if torch.is_grad_enabled() and phases.requires_grad:
        return _Interleave.apply(phases, out_channels)
    return _interleave_values(phases, out_channels)


def _interleave_values(phases: torch.Tensor, out_channels: int) -> torch.Tensor:
    n, _, rows, cols = phases.shape
    height, width = rows - 1, cols - 1
    nhwc = phases.permute(0, 2, 3, 1).reshape(n, rows, cols, 2, 2, out_channels)  # free for channels-last input
    out = phases.new_empty(n, height, 2, width, 2, out_channels)
    for a in (0, 1):
        for b in (0, 1):
            out[:, :, a, :, b] = nhwc[:, a : a + height, b : b + width, a, b]
    return out.view(n, 2 * height, 2 * width, out_channels).permute(0, 3, 1, 2)  # channels-last strides


class _Interleave(torch.autograd.Function):
    """`_interleave_values` with a backward that is its transpose: one zeroed phase tensor, four strided copies.
    Written in the setup_context form with a jvp, so torch.func's transforms (grad, vjp, jacrev, jacfwd, vmap,
    hessian) and forward-mode AD accept it too."""

    generate_vmap_rule = True

    @staticmethod
    def forward(phases: torch.Tensor, out_channels: int) -> torch.Tensor:  # type: ignore[override]
        return _interleave_values(phases, out_channels)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, int], output: torch.Tensor) -> None:
        phases, out_channels = inputs
        ctx.out_channels = out_channels
        ctx.phases_shape = tuple(phases.shape)

    @staticmethod
    def jvp(ctx: Any, phases_tangent: torch.Tensor, _: None) -> torch.Tensor:  # type: ignore[override]
        return _interleave_values(phases_tangent, ctx.out_channels)  # linear: the tangent is interleaved the same way

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        channels: int = ctx.out_channels
        n, _, rows, cols = ctx.phases_shape
        height, width = rows - 1, cols - 1
        grad = grad_out.permute(0, 2, 3, 1).reshape(n, height, 2, width, 2, channels)  # a view for channels-last
        grad_nhwc = grad_out.new_zeros(n, rows, cols, 2, 2, channels)
        for a in (0, 1):
            for b in (0, 1):
                grad_nhwc[:, a : a + height, b : b + width, a, b] = grad[:, :, a, :, b]
        return grad_nhwc.view(n, rows, cols, 4 * channels).permute(0, 3, 1, 2), None  # channels-last strides


def serving_form(generator: nn.Module) -> nn.Module:
    """The module the engine runs for `generator` (eval mode, frozen): the fused form of the paper's DCGAN generator
    or ResNet-VAE decoder, else the generator itself."""
    weight = next(generator.parameters(), None)
    if weight is None:
        return generator
    if isinstance(generator, DCGANGenerator):
        return FusedDCGANGenerator(generator).to(device=weight.device, dtype=weight.dtype).eval()
    if isinstance(generator, VAEDecoder):
        return FusedVAEDecoder(generator).to(device=weight.device, dtype=weight.dtype).eval()
    return generator


def form_name(module: nn.Module) -> str:
    return "fused" if isinstance(module, (FusedDCGANGenerator, FusedVAEDecoder)) else "eager"


def _conv_bn_blocks(
    layers: list[nn.Module],
) -> tuple[list[tuple[nn.ConvTranspose2d, nn.BatchNorm2d]], nn.ConvTranspose2d]:
    """[ConvT, BN, ReLU] * n + [ConvT, Tanh] -> the n (ConvT, BN) pairs and the last ConvT; anything else is refused
    (ValueError), so an architecture the fused form does not compute exactly never reaches a client."""
    blocks = []
    for i in range(0, len(layers) - 2, 3):
        conv, bn, act = layers[i : i + 3]
        if not (isinstance(conv, nn.ConvTranspose2d) and isinstance(bn, nn.BatchNorm2d) and isinstance(act, nn.ReLU)):
            raise ValueError(f"not a DCGAN block at layer {i}: {type(conv).__name__}, {type(bn).__name__}, {type(act).__name__}")
        blocks.append((_plain(conv, f"layer {i}"), bn))
    last, tanh = layers[-2:]
    if len(layers) % 3 != 2 or not isinstance(last, nn.ConvTranspose2d) or not isinstance(tanh, nn.Tanh):
        raise ValueError("a DCGAN generator ends with ConvTranspose2d and Tanh")
    if last.bias is not None:
        raise ValueError("the last ConvTranspose2d has a bias; the fused form computes it without one")
    if tuple(last.kernel_size) != (4, 4) or _single(last.stride) != 2 or _single(last.padding) != 1:
        raise ValueError(f"the last layer must be a 4 x 4 ConvTranspose2d with stride 2 and padding 1, got {last}")
    return blocks, _plain(last, "the last layer")


def _plain(conv: nn.ConvTranspose2d, where: str) -> nn.ConvTranspose2d:
    """Only what the fused form computes: no groups, no dilation, no output padding (the DCGAN's convolutions)."""
    if conv.groups != 1 or set(conv.dilation) != {1} or set(conv.output_padding) != {0}:
        raise ValueError(
            f"{where}: groups {conv.groups}, dilation {conv.dilation}, output_padding {conv.output_padding} are not "
            "fused (only 1, 1, 0)"
        )
    return conv


def _plain_3x3(conv: nn.Conv2d) -> nn.Conv2d:
    """The VAE's convolutions: 3 x 3, stride 1, padding 1, no groups or dilation; anything else is refused."""
    if (
        not isinstance(conv, nn.Conv2d)
        or tuple(conv.kernel_size) != (3, 3)
        or tuple(conv.stride) != (1, 1)
        or tuple(conv.padding) != (1, 1)
        or conv.groups != 1
        or tuple(conv.dilation) != (1, 1)
    ):
        raise ValueError(f"only 3 x 3 convolutions with stride 1 and padding 1 are fused, got {conv}")
    return conv


def _folded(
    conv: nn.ConvTranspose2d | nn.Conv2d, bn: nn.BatchNorm2d, out_axis: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """BN(conv(x)) = conv'(x) + b' with conv' = conv scaled per output channel; in float64, then back.

    `out_axis`: where the output channels are in the weight, 1 for ConvTranspose2d (in, out, kH, kW), 0 for Conv2d.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm without running statistics cannot be folded")
    dtype = conv.weight.dtype
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(bn.running_var, dtype=torch.float64)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(gamma)
    scale = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
    shape = [1, 1, 1, 1]
    shape[out_axis] = -1
    weight = conv.weight.double() * scale.reshape(shape)
    bias = beta - bn.running_mean.double() * scale
    if conv.bias is not None:
        bias = bias + conv.bias.double() * scale
    return weight.to(dtype).detach(), bias.to(dtype).detach()


def _single(value: int | tuple[int, ...] | str) -> int:
    """Square strides and paddings only (the DCGAN's); a tuple of equal values is one number."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) or len(set(value)) != 1:
        raise ValueError(f"only square strides and paddings are fused, got {value!r}")
    return int(value[0])
