"""Discovery time on the demo models: the Jacobian method against SeFa, GANSpace and ICA (closed forms), the paper's
Voynov configuration (timed for a few steps, extrapolated to its 3000) and the scorecard's rendering of one set,
each with the eager generator (the baseline) and with the fused form discovery now renders with, in one run. The
Voynov step is also timed with the fused form's interleave passing its gradient back through autograd's slicing (as
before its hand-written backward): eager / fused with slicing backward / fused.

    .venv/bin/python bench/bench_discovery.py [--threads 2] [--voynov-steps 5] [--models models/phantom-dcgan ...]

Prints a table; no assertions. Targets (issue 16): Jacobian under 1 minute, `--preset paper` under 30 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn

from latentct.artifacts import load_model
from latentct.artifacts.probe import load_probe
from latentct.core.hardware import cpu_has_native_bf16
from latentct.discovery.closed_form import ganspace, sefa
from latentct.discovery.methods.ica import IcaConfig, ica_directions
from latentct.discovery.methods.jacobian import JacobianConfig, jacobian_directions
from latentct.discovery.scorecard import ScorecardConfig, factor_slopes
from latentct.discovery.voynov import VoynovConfig, train_voynov
from latentct.nets import fused


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def jacobian_seconds(generator: nn.Module, latent_dim: int) -> float:
    return timed(lambda: jacobian_directions(generator, latent_dim, latent_dim, JacobianConfig()))


def voynov_seconds_per_step(generator: nn.Module, latent_dim: int, image_size: int, steps: int) -> float:
    config = VoynovConfig(count=100, direction_model="unit", steps=steps, batch_size=128, rca_samples=128, amp_bf16=True)
    result = train_voynov(generator, latent_dim, image_size, config, progress=False)
    return float(result.metrics["train_seconds"]) / max(int(result.metrics["steps_done"]), 1)


@contextlib.contextmanager
def slicing_backward() -> Iterator[None]:
    """The fused forms' interleave as plain slicing, so autograd derives its backward (the baseline)."""
    saved = fused._interleave
    fused._interleave = fused._interleave_values
    try:
        yield
    finally:
        fused._interleave = saved


def scorecard_set_seconds(generator: nn.Module, probe: object, latent_dim: int) -> float:
    """Rendering and reading one 32-direction set as the scorecard does (16 seeds x 7 shifts per direction)."""
    config = ScorecardConfig()
    directions = torch.linalg.qr(torch.randn(latent_dim, latent_dim, generator=torch.Generator().manual_seed(0)))[0]
    latents = torch.randn(config.seeds, latent_dim, generator=torch.Generator().manual_seed(1))
    device = torch.device("cpu")
    with config.autocast(device):
        return timed(lambda: factor_slopes(generator, probe, directions, latents, config.shifts(), device,
                                           config.batch_size, progress=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--voynov-steps", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["models/phantom-dcgan", "models/phantom-vae"])
    parser.add_argument("--probe", default="models/_phantom-probe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    probe = load_probe(args.probe, torch.device("cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), native bf16: {cpu_has_native_bf16()} (the "
          "Voynov step runs bf16 autocast where native); each timing: eager generator / fused form; Voynov: eager / "
          "fused, slicing backward / fused")
    print(f"{'model':16s} {'sefa s':>7s} {'ganspace s':>10s} {'ica s':>6s} {'jacobian s':>13s} {'voynov paper s/step':>26s} "
          f"{'-> 3000 steps min':>22s} {'scorecard, one set s':>21s}")
    for path in args.models:
        model = load_model(path)
        g, d = model.generator, model.latent_dim
        forms = (model.generator, model.fused_generator)
        t_sefa = timed(lambda: sefa(g, d, d))  # noqa: B023 (called at once)
        t_ganspace = timed(lambda: ganspace(g, d, d, progress=False))  # noqa: B023
        t_ica = timed(lambda: ica_directions(g, d, d // 2, IcaConfig()))  # noqa: B023
        t_jacobian = [jacobian_seconds(f, d) for f in forms]
        eager_step, fused_step = (voynov_seconds_per_step(f, d, model.image_size, args.voynov_steps) for f in forms)
        with slicing_backward():
            slicing_step = voynov_seconds_per_step(forms[1], d, model.image_size, args.voynov_steps)
        per_step = (eager_step, slicing_step, fused_step)  # the columns' order
        t_set = [scorecard_set_seconds(f, probe, d) for f in forms]
        print(f"{model.id:16s} {t_sefa:7.3f} {t_ganspace:10.1f} {t_ica:6.1f} {t_jacobian[0]:6.1f} /{t_jacobian[1]:5.1f} "
              f"{per_step[0]:12.2f} /{per_step[1]:5.2f} /{per_step[2]:5.2f} "
              f"{per_step[0] * 50:9.0f} /{per_step[1] * 50:5.0f} /{per_step[2] * 50:5.0f} "
              f"{t_set[0]:13.1f} /{t_set[1]:5.1f}")


if __name__ == "__main__":
    main()
