"""Nearest training slice on the demo models: index load, brute-force search over 57 600 x 32, probe + search per
generated image, re-rendering a training slice, and whether the demo models copy (percentiles of seeds 0..N-1).

Usage:
  .venv/bin/python bench/bench_nearest.py [--models-dir models] [--threads 1] [--seeds 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from latentct.artifacts import load_model
from latentct.artifacts.nearest import load_nearest_index
from latentct.artifacts.probe import load_probe
from latentct.core.latents import latent_from_seed
from latentct.rendering.nearest import find_nearest, training_slice


def median_ms(fn: Callable[[], object], repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def bench_model(model_dir: Path, probe_dir: Path, seeds: int) -> None:
    started = time.perf_counter()
    index = load_nearest_index(model_dir)
    load_ms = 1000.0 * (time.perf_counter() - started)
    probe = load_probe(probe_dir)
    one, batch = torch.randn(1, index.features.shape[1]), torch.randn(64, index.features.shape[1])
    image = torch.rand(1, 1, probe.image_size, probe.image_size) * 2 - 1
    print(f"{model_dir.name}: {len(index)} rows x {index.features.shape[1]} dims, "
          f"{(model_dir / 'nearest.safetensors').stat().st_size} bytes, loaded in {load_ms:.0f} ms, "
          f"recall {index.header['recall']}")
    print(f"  search only: {median_ms(lambda: index.nearest(one)):.2f} ms/query; "
          f"batch of 64: {median_ms(lambda: index.nearest(batch), 5) / 64:.2f} ms/query")
    print(f"  probe + search, one image: {median_ms(lambda: find_nearest(index, probe, image)):.2f} ms")
    print(f"  one training slice rendered again: {median_ms(lambda: training_slice(index, 12345 % len(index)), 5):.1f} ms")
    loaded = load_model(model_dir, components=("generator",))
    with torch.no_grad():
        images = loaded.generator(torch.stack([latent_from_seed(s, loaded.latent_dim) for s in range(seeds)])).float()
    matches = [m[0] for m in find_nearest(index, probe, images)]
    percentiles = torch.tensor([m.percentile for m in matches])
    distances = torch.tensor([m.distance for m in matches])
    print(f"  seeds 0..{seeds - 1}: median percentile {percentiles.median():.1f}, share below 5: "
          f"{(percentiles < 5).float().mean():.3f}, median distance {distances.median():.2f} "
          f"(held-out median {index.held_out.median():.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for model in ("phantom-dcgan", "phantom-vae"):
        bench_model(args.models_dir / model, args.models_dir / "_phantom-probe", args.seeds)


if __name__ == "__main__":
    main()
