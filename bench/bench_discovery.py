"""Discovery speed at the demo GAN's width (DCGAN ngf 32, latent 32, 128 px), side by side:
Voynov steps/s with the LeNet vs the ResNet-18 reconstructor (and samples/s against the paper's 3000 x 128),
SeFa and GANSpace time, and evaluation time per direction (traversal rendering + probe) and for a whole set.

Uses the shipped demo model and probe when present (models/phantom-dcgan, models/_phantom-probe), else randomly
initialised nets of the same size (speed does not depend on the weights).

Run: .venv/bin/python bench/bench_discovery.py [--threads 1] [--batch-size 32] [--steps 4] [--device auto]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from latentct.discovery.closed_form import ganspace, random_orthonormal, sefa
from latentct.discovery.common import latents_from_seeds, resolve_device
from latentct.discovery.evaluate import measure_traversals
from latentct.discovery.voynov import VoynovConfig, frozen, sample_batch, train_step
from latentct.nets import DCGANGenerator
from latentct.nets.directions import build_direction_model
from latentct.nets.probe import PhantomProbe
from latentct.nets.reconstructors import build_reconstructor

REPO_ROOT = Path(__file__).resolve().parents[1]
LATENT_DIM, IMAGE_SIZE = 32, 128


def demo_generator(device: torch.device) -> tuple[torch.nn.Module, str]:
    demo = REPO_ROOT / "models" / "phantom-dcgan"
    if (demo / "model.json").is_file():
        from latentct.artifacts import load_model

        return load_model(demo, device=device, components=("generator",)).generator, "models/phantom-dcgan"
    return DCGANGenerator(LATENT_DIM, 32, IMAGE_SIZE).to(device).eval(), "random DCGAN ngf 32"


def demo_probe(device: torch.device) -> tuple[Any, str]:
    """The shipped probe, or a random one of the same size (a stand-in with the same methods)."""
    probe_dir = REPO_ROOT / "models" / "_phantom-probe"
    if (probe_dir / "probe.json").is_file():
        from latentct.artifacts.probe import load_probe

        return load_probe(probe_dir, device), "models/_phantom-probe"

    class StandIn:
        def __init__(self) -> None:
            self.factor_names = [f"f{i}" for i in range(8)]
            self.net = PhantomProbe(IMAGE_SIZE).to(device).eval()

        @torch.no_grad()
        def predict(self, images: torch.Tensor) -> torch.Tensor:
            return self.net(images.to(device)).cpu()

        @torch.no_grad()
        def features(self, images: torch.Tensor) -> torch.Tensor:
            return self.net.features(images.to(device)).cpu()

    return StandIn(), "random PhantomProbe width 16"


def voynov_steps_per_second(
    generator: torch.nn.Module, reconstructor: str, batch_size: int, steps: int, device: torch.device
) -> float:
    config = VoynovConfig(count=LATENT_DIM, direction_model="ortho", reconstructor=reconstructor, batch_size=batch_size)
    torch.manual_seed(0)
    directions = build_direction_model("ortho", LATENT_DIM, LATENT_DIM).to(device)
    net = build_reconstructor(reconstructor, LATENT_DIM, IMAGE_SIZE).to(device).train()
    optimizer = torch.optim.Adam([*directions.parameters(), *net.parameters()], lr=1e-4)
    rng = torch.Generator(device=device).manual_seed(0)
    with frozen(generator):
        train_step(
            generator, directions, net, optimizer, sample_batch(LATENT_DIM, batch_size, config, rng, device), config
        )  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(steps):
            train_step(generator, directions, net, optimizer, sample_batch(LATENT_DIM, batch_size, config, rng, device), config)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the shared dev box: 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="Voynov batch size measured (paper: 128)")
    parser.add_argument("--steps", type=int, default=4, help="timed Voynov steps per reconstructor")
    parser.add_argument("--seeds", type=int, default=32, help="evaluation seeds per direction")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    generator, source = demo_generator(device)
    probe, probe_source = demo_probe(device)
    print(f"device {device}, {torch.get_num_threads()} thread(s); generator: {source}; probe: {probe_source}")

    rates = {
        name: voynov_steps_per_second(generator, name, args.batch_size, args.steps, device) for name in ("lenet", "resnet18")
    }
    paper_samples = 3000 * 128
    print(f"\nVoynov (ortho, K=32, batch {args.batch_size})        steps/s   samples/s   paper's 3000x128 would take")
    for name, rate in rates.items():
        samples = rate * args.batch_size
        print(
            f"  reconstructor {name:<9}                    {rate:8.3f}   {samples:9.1f}   {paper_samples / samples / 3600:8.2f} h"
        )
    print(f"  LeNet is {rates['lenet'] / rates['resnet18']:.2f}x the speed of ResNet-18")

    started = time.perf_counter()
    sefa(generator, LATENT_DIM, LATENT_DIM)
    sefa_s = time.perf_counter() - started
    started = time.perf_counter()
    ganspace(generator, LATENT_DIM, LATENT_DIM, n_samples=1024, progress=False, device=device)
    ganspace_s = time.perf_counter() - started
    print("\nclosed form, K=32                               seconds")
    print(f"  SeFa                                          {sefa_s:8.4f}")
    print(f"  GANSpace (1024 samples, after block 2)        {ganspace_s:8.3f}")

    latents = latents_from_seeds(LATENT_DIM, list(range(args.seeds)))
    shifts = torch.linspace(-6, 6, 9)
    directions = random_orthonormal(LATENT_DIM, 2)
    started = time.perf_counter()
    measure_traversals(generator, probe, directions, latents, shifts, device)
    per_direction = (time.perf_counter() - started) / len(directions)
    frames = args.seeds * len(shifts)
    print(f"\nevaluation ({args.seeds} seeds x 9 shifts = {frames} frames per direction)   seconds")
    print(f"  per direction (render + probe)                {per_direction:8.2f}   ({frames / per_direction:.0f} frames/s)")
    print(f"  a K=32 set plus its K=32 random baseline      {per_direction * 64:8.1f}")


if __name__ == "__main__":
    main()
