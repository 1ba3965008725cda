"""A 64-slice volume with its three reformats (PNG) on the demo models, batched, beside one forward pass per slice.

Both variants do the same work: the shift search (13 probe evaluations on the straight line), 64 slices, the axial,
coronal and sagittal reformats windowed and encoded as PNG. The batched one renders in a few forward passes
(rendering/volumes.py); the naive one runs the generator once per image. Target: < 1 s on this CPU.
Synthetic images: research only, not for clinical use.

Usage:
  .venv/bin/python bench/bench_volume.py [--models-dir models] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from latentct.artifacts import load_direction_set
from latentct.artifacts.directions import load_scorecard
from latentct.artifacts.probe import load_probe
from latentct.rendering.encoding import png_bytes
from latentct.rendering.registry import load_served_model
from latentct.rendering.volumes import Volume, VolumeModel, VolumeRequest, build_volume, reformat
from latentct.rendering.windows import parse_window, unit_to_grey

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = ("phantom-dcgan", "phantom-vae")
SET_ID = "supervised"
SLICES = 64


def reformats(volume: Volume) -> list[bytes]:
    window = parse_window("mediastinum")
    return [png_bytes(unit_to_grey(reformat(volume, plane)[None], volume.hu_range, window)[0])
            for plane in ("axial", "coronal", "sagittal")]


def one_at_a_time(model: VolumeModel) -> VolumeModel:
    """The naive renderer: the same generator, one forward pass per latent."""
    run = model.forward if model.forward is not None else model.generator

    def forward(latents: torch.Tensor) -> torch.Tensor:
        return torch.cat([run(latents[i : i + 1]) for i in range(latents.shape[0])])

    return VolumeModel(model.generator, model.latent_dim, model.image_size, model.hu_range, forward)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of this process (on a shared machine the CPU time says more)."""
    fn()  # warm-up: allocator, oneDNN kernels
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def bench_model(models_dir: Path, model_id: str, repeats: int) -> tuple[str, tuple[float, float], tuple[float, float], str]:
    served = load_served_model(models_dir / model_id, torch.device("cpu"))
    probe = load_probe(models_dir / "_phantom-probe")
    request = VolumeRequest(SET_ID, load_direction_set(models_dir / model_id, SET_ID).directions, seed=0, slices=SLICES,
                            scorecard=load_scorecard(models_dir / model_id))
    batched, naive = VolumeModel.of_served(served), one_at_a_time(VolumeModel.of_served(served))
    fast = timed(lambda: reformats(build_volume(batched, request, probe)), repeats)
    slow = timed(lambda: reformats(build_volume(naive, request, probe)), repeats)
    same = np.allclose(build_volume(batched, request, probe).images, build_volume(naive, request, probe).images, atol=2e-2)
    return model_id, fast, slow, f"{served.dtype}".removeprefix("torch.") + ("" if same else ", outputs differ!")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{SLICES}-slice volume + 3 reformats, straight path with probe search, {args.threads} torch threads, "
          f"median of {args.repeats}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'model':16s} {'batched s (CPU s)':>18s} {'1 pass/slice s (CPU s)':>23s} {'speed-up':>9s}  dtype")
    for model_id in MODELS:
        name, fast, slow, dtype = bench_model(args.models_dir, model_id, args.repeats)
        print(f"{name:16s} {fast[0]:8.3f} ({fast[1]:6.3f}) {slow[0]:12.3f} ({slow[1]:7.3f}) {slow[0] / fast[0]:8.1f}x  {dtype}")


if __name__ == "__main__":
    main()
