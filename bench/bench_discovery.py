"""Discovery time on the demo models: the Jacobian method against SeFa and GANSpace (closed forms) and the paper's
Voynov configuration (timed for a few steps, extrapolated to its 3000), all in one run.

    .venv/bin/python bench/bench_discovery.py [--threads 2] [--voynov-steps 5] [--models models/phantom-dcgan ...]

Prints a table; no assertions. Targets (issue 16): Jacobian under 1 minute, `--preset paper` under 30 minutes.
"""

from __future__ import annotations

import argparse
import time

import torch

from latentct.artifacts import load_model
from latentct.discovery.closed_form import ganspace, sefa
from latentct.discovery.methods.jacobian import JacobianConfig, jacobian_directions
from latentct.discovery.voynov import VoynovConfig, train_voynov


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--voynov-steps", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["models/phantom-dcgan", "models/phantom-vae"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"{'model':24s} {'sefa s':>8s} {'ganspace s':>11s} {'jacobian s':>11s} {'voynov paper s/step':>20s} "
          f"{'-> 3000 steps min':>18s}")
    for path in args.models:
        model = load_model(path)
        g, d = model.generator, model.latent_dim
        t_sefa = timed(lambda g=g, d=d: sefa(g, d, d))
        t_ganspace = timed(lambda g=g, d=d: ganspace(g, d, d, progress=False))
        t_jacobian = timed(lambda g=g, d=d: jacobian_directions(g, d, d, JacobianConfig()))
        config = VoynovConfig(count=100, direction_model="unit", steps=args.voynov_steps, batch_size=128, rca_samples=128,
                              amp_bf16=True)
        result = train_voynov(g, d, model.image_size, config, progress=False)
        per_step = result.metrics["train_seconds"] / max(result.metrics["steps_done"], 1)
        print(f"{model.id:24s} {t_sefa:8.3f} {t_ganspace:11.1f} {t_jacobian:11.1f} {per_step:20.2f} {per_step * 3000 / 60:18.0f}")


if __name__ == "__main__":
    main()
