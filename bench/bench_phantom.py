"""Phantom rendering speed on one core at 128 px: the real renderer beside a naive baseline of the same renderer
(every shape evaluated over the whole image, coordinate grids and table rebuilt per slice).

Run: .venv/bin/python bench/bench_phantom.py [--slices 400] [--size 128]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import torch

from latentct.data import phantom


@contextmanager
def naive_renderer() -> Iterator[None]:
    """Turn off the two shortcuts: per-shape pixel windows and cached grids/table."""
    original_window = phantom._Canvas.window
    grid, table = phantom._pixel_grid, phantom._table_template

    def full_window(self, u, v, radius_u):  # type: ignore[no-untyped-def]
        return slice(0, self.size), slice(0, self.size)

    phantom._Canvas.window = full_window  # type: ignore[method-assign]
    phantom._pixel_grid = grid.__wrapped__  # type: ignore[assignment]
    phantom._table_template = lambda size: table.__wrapped__(size)  # type: ignore[assignment]
    try:
        yield
    finally:
        phantom._Canvas.window = original_window  # type: ignore[method-assign]
        phantom._pixel_grid, phantom._table_template = grid, table


def rate(slices: int, size: int, patients_every: int) -> tuple[float, float]:
    """(slices/s with a new patient every `patients_every` slices, slices/s of render_slice alone)."""
    t0 = time.perf_counter()
    for _hu, _row in phantom.iter_phantom_slices(slices // patients_every, patients_every, size, seed=1):
        pass
    full = slices / (time.perf_counter() - t0)
    rng = np.random.default_rng(0)
    patient = phantom.sample_patient(rng)
    t0 = time.perf_counter()
    for i in range(slices):
        phantom.render_slice(patient, (i % 101) / 100, size, rng)
    return full, slices / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--slices-per-patient", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate(20, args.size, 10)  # warm-up: imports, caches
    fast = rate(args.slices, args.size, args.slices_per_patient)
    with naive_renderer():
        naive = rate(max(40, args.slices // 4), args.size, args.slices_per_patient)
    t0 = time.perf_counter()
    n = 50
    for i in range(n):
        phantom.sample_patient(np.random.default_rng(i))
    patient_ms = (time.perf_counter() - t0) / n * 1000
    print(f"phantom at {args.size} px, one core ({args.slices_per_patient} slices per patient)")
    print(f"{'renderer':<34}{'dataset slices/s':>18}{'render_slice/s':>16}")
    print(f"{'latentct (windows + cached grids)':<34}{fast[0]:>18.0f}{fast[1]:>16.0f}")
    print(f"{'naive (full-image shapes)':<34}{naive[0]:>18.0f}{naive[1]:>16.0f}")
    print(f"speed-up {fast[1] / naive[1]:.1f}x; sample_patient {patient_ms:.1f} ms; target >= 200 slices/s")


if __name__ == "__main__":
    main()
