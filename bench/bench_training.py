"""Training-step throughput (images/s) of the demo-width DCGAN and ResNet VAE: default memory format vs channels_last.

    .venv/bin/python bench/bench_training.py [--batch-size 32] [--steps 4] [--threads 1] [--device auto]

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

DEMO = {
    "gan": (GANConfig(ngf=32, ndf=32), {"latent_dim": 32, "ngf": 32, "ndf": 32, "image_size": 128}),
    "vae": (VAEConfig(base_channels=16), {"latent_dim": 32, "base_channels": 16, "image_size": 128}),
}


def images_per_second(kind: str, runtime: Runtime, batch_size: int, steps: int) -> float:
    config, arch = DEMO[kind]
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
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch {args.batch_size}, "
          f"{args.steps} timed steps")
    print(f"{'model':28s} {'default (img/s)':>16s} {'channels_last (img/s)':>22s} {'ratio':>7s}")
    for kind, label in (("gan", "DCGAN ngf=ndf=32, 128 px"), ("vae", "ResNet VAE base=16, 128 px")):
        default = images_per_second(kind, Runtime(device, channels_last=False), args.batch_size, args.steps)
        channels_last = images_per_second(kind, Runtime(device, channels_last=True), args.batch_size, args.steps)
        print(f"{label:28s} {default:16.1f} {channels_last:22.1f} {channels_last / default:7.2f}")


if __name__ == "__main__":
    main()
