"""Training-step throughput (images/s): the demo models' arithmetic (bf16 autocast where the CPU runs it natively,
channels_last) beside the plain float32 eager loop, in one run; and how far bf16 moves one step's update.

    .venv/bin/python bench/bench_training.py [--batch-size 64] [--steps 4] [--threads 1] [--device auto] [--paper-size]

Rows: the DCGAN with the improved recipe (spectral-norm D, hinge loss, EMA, augmented fakes) and with the paper's,
and the ResNet VAE, at demo widths (DCGAN ngf=ndf=32, VAE base 16; `--paper-size` adds the paper's 128 / 64).
One step = everything `latentct train` does per batch (augmentation, D and G steps / the VAE step, the weight
average). "grad cosine" compares the generator's first gradient from the same weights, batch and noise in bf16
against float32 (1 = the same direction). Prints a table; no assertions. torch.compile is not used: on this
CPU it did not hold the fused serving forms' tolerance (docs/serving.md) and training does not need it.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

import torch

from latentct.core.device import resolve_device
from latentct.core.hardware import cpu_has_native_bf16
from latentct.training.config import RECIPES, GANConfig, VAEConfig, apply_values
from latentct.training.gan import GANTrainer
from latentct.training.run import make_augment
from latentct.training.runtime import Runtime
from latentct.training.vae import VAETrainer


def gan(width: int, recipe: str) -> tuple[str, Any, dict[str, Any]]:
    config = apply_values(GANConfig(ngf=width, ndf=width), RECIPES["gan"][recipe], recipe)
    arch: dict[str, Any] = {"latent_dim": 32, "ngf": width, "ndf": width, "image_size": 128}
    if config.d_norm != "batch":
        arch["d_norm"] = config.d_norm
    return "gan", config, arch


def vae(base: int) -> tuple[str, Any, dict[str, Any]]:
    return "vae", VAEConfig(base_channels=base), {"latent_dim": 32, "base_channels": base, "image_size": 128}


MODELS = {"DCGAN 32, improved recipe": gan(32, "improved"), "DCGAN 32, paper recipe": gan(32, "paper"),
          "ResNet VAE base 16": vae(16)}
PAPER_MODELS = {"DCGAN 128, improved (paper width)": gan(128, "improved"), "ResNet VAE base 64 (paper)": vae(64)}
VARIANTS = (("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True))


def make(label: str, runtime: Runtime, batch_size: int) -> tuple[Any, Any]:
    kind, config, arch = {**MODELS, **PAPER_MODELS}[label]
    config = dataclasses.replace(config, batch_size=batch_size, epochs=10)
    torch.manual_seed(0)
    trainer = GANTrainer(config, arch, runtime, make_augment(config)) if kind == "gan" else VAETrainer(config, arch, runtime)
    return trainer, config


def images_per_second(label: str, runtime: Runtime, batch_size: int, steps: int) -> float:
    trainer, config = make(label, runtime, batch_size)
    augment = make_augment(config)
    rng = torch.Generator(device=runtime.device).manual_seed(0)
    real = (torch.rand(batch_size, 1, 128, 128, device=runtime.device) * 2 - 1).contiguous(memory_format=runtime.memory_format)

    def step() -> None:
        trainer.step(augment(real, rng) if augment else real, rng, 0.5)

    step()  # warm-up: allocator, oneDNN / cuDNN algorithm choice
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - started)


def gradient_cosine(label: str, device: torch.device, batch_size: int) -> float:
    """Cosine between the generator's first gradient in bf16 and in float32 (same init, batch and noise).

    The gradient, not the weight update: Adam's first update is lr * sign(gradient), which tiny, noisy components
    dominate."""
    gradients = []
    for precision in ("fp32", "bf16"):
        runtime = Runtime(device, channels_last=True, precision=precision)
        trainer, _ = make(label, runtime, batch_size)
        optimizer = trainer.optimizers["generator" if "generator" in trainer.optimizers else "vae"]
        net = trainer.nets["generator"]
        captured: list[torch.Tensor] = []
        optimizer.step = lambda *a, _c=captured, _n=net, **k: _c.append(  # type: ignore[method-assign]
            torch.cat([p.grad.detach().flatten() for p in _n.parameters() if p.grad is not None]))
        real = torch.rand(batch_size, 1, 128, 128, generator=torch.Generator().manual_seed(1)).to(device) * 2 - 1
        trainer.step(real.contiguous(memory_format=torch.channels_last), torch.Generator(device=device).manual_seed(0), 0.5)
        gradients.append(captured[-1])
    return float(torch.nn.functional.cosine_similarity(gradients[0], gradients[1], dim=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--paper-size", action="store_true", help="also the paper's widths (DCGAN 128, VAE 64)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    native = device.type == "cuda" or cpu_has_native_bf16()
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {args.batch_size}, "
          f"{args.steps} timed steps, native bf16: {native}")
    header = " ".join(f"{p + (' NHWC' if cl else ' NCHW'):>11s}" for p, cl in VARIANTS)
    print(f"{'images/s':34s} {header} {'demo/fp32':>9s} {'grad cosine':>13s}")
    for label in [*MODELS, *(PAPER_MODELS if args.paper_size else {})]:
        rates = [images_per_second(label, Runtime(device, channels_last=cl, precision=p), args.batch_size, args.steps)
                 for p, cl in VARIANTS]
        cosine = gradient_cosine(label, device, args.batch_size)
        cells = " ".join(f"{r:11.1f}" for r in rates)
        print(f"{label:34s} {cells} {rates[3] / rates[0]:9.2f} {cosine:13.4f}")


if __name__ == "__main__":
    main()
