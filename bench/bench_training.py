"""Training-step throughput (images/s) of the DCGAN and ResNet VAE: default memory format vs channels_last.

    .venv/bin/python bench/bench_training.py [--batch-size 32] [--steps 4] [--threads 1] [--device auto] [--paper-size]

Demo widths (DCGAN ngf=ndf=32, VAE base 16) by default; `--paper-size` adds the paper's (ngf=ndf=128, base 64).

One training step = everything `latentct train` does per batch (augmentation, D and G steps / VAE step). On CUDA the
run also uses bf16 autocast, as training does. Prints a table; no assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from latentct.training.augment import random_affine
from latentct.training.config import GANConfig, VAEConfig
from latentct.training.gan import GANTrainer
from latentct.training.runtime import Runtime, resolve_device
from latentct.training.vae import VAETrainer


def gan(width: int) -> tuple[str, GANConfig, dict[str, int]]:
    return "gan", GANConfig(ngf=width, ndf=width), {"latent_dim": 32, "ngf": width, "ndf": width, "image_size": 128}


def vae(base: int) -> tuple[str, VAEConfig, dict[str, int]]:
    return "vae", VAEConfig(base_channels=base), {"latent_dim": 32, "base_channels": base, "image_size": 128}


MODELS = {"DCGAN ngf=ndf=32, 128 px": gan(32), "ResNet VAE base=16, 128 px": vae(16)}
PAPER_MODELS = {"DCGAN ngf=ndf=128 (paper)": gan(128), "ResNet VAE base=64 (paper)": vae(64)}


def images_per_second(label: str, runtime: Runtime, batch_size: int, steps: int) -> float:
    kind, config, arch = {**MODELS, **PAPER_MODELS}[label]
    config = dataclasses.replace(config, batch_size=batch_size, epochs=10)
    torch.manual_seed(0)
    trainer = GANTrainer(config, arch, runtime) if kind == "gan" else VAETrainer(config, arch, runtime)  # type: ignore[arg-type]
    rng = torch.Generator(device=runtime.device).manual_seed(0)
    real = (torch.rand(batch_size, 1, 128, 128, device=runtime.device) * 2 - 1).contiguous(memory_format=runtime.memory_format)

    def step() -> None:
        trainer.step(random_affine(real, rng), rng, 0.5)

    step()  # warm-up: allocator, oneDNN / cuDNN algorithm choice
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--paper-size", action="store_true", help="also the paper's widths (DCGAN 128, VAE 64)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {args.batch_size}, "
          f"{args.steps} timed steps")
    print(f"{'model':28s} {'default (img/s)':>16s} {'channels_last (img/s)':>22s} {'ratio':>7s}")
    for label in [*MODELS, *(PAPER_MODELS if args.paper_size else {})]:
        default = images_per_second(label, Runtime(device, channels_last=False), args.batch_size, args.steps)
        channels_last = images_per_second(label, Runtime(device, channels_last=True), args.batch_size, args.steps)
        print(f"{label:28s} {default:16.1f} {channels_last:22.1f} {channels_last / default:7.2f}")


if __name__ == "__main__":
    main()
