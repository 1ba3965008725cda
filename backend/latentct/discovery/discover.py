"""Run one discovery method on a model folder and save the result as a direction set beside the model."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentct.artifacts import DirectionSet, save_direction_set, validate_id
from latentct.core.device import resolve_device
from latentct.core.errors import InvalidInputError
from latentct.core.provenance import provenance
from latentct.discovery.common import load_for_discovery
from latentct.discovery.methods import MethodContext, get_method, method_names
from latentct.discovery.methods.ica import IcaConfig
from latentct.nets.directions import DIRECTION_MODELS
from latentct.nets.reconstructors import RECONSTRUCTORS

METHODS = method_names()

# Voynov presets: the paper's configuration (from its code) and GANLatentDiscovery's defaults. Values a preset
# sets replace the request's; anything else stays as asked.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"direction_model": "unit", "count": 100, "reconstructor": "lenet", "steps": 3000, "batch_size": 128,
              "lr": 1e-4, "direction_lr": None},
    "original": {"direction_model": "ortho", "count": None, "reconstructor": "resnet18", "steps": 100_000,
                 "batch_size": 32, "lr": 1e-4, "direction_lr": None},
}


@dataclass
class DiscoveryRequest:
    """What `latentct discover` asks for; None means the method's default."""

    method: str
    count: int | None = None
    direction_model: str = "ortho"
    reconstructor: str = "lenet"
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-4
    direction_lr: float | None = None
    seed: int = 0
    set_id: str | None = None
    ganspace_block: int = 2
    ganspace_samples: int | None = None  # GANSpace and ICA: prior samples (default: 2048 GANSpace, 8192 ICA)
    ica_restarts: int = 8
    ica_resamples: int = 5
    ica_contrast: str = "kurtosis"
    amp_bf16: bool = False
    rca_samples: int = 1024
    max_minutes: float | None = None
    preset: str | None = None  # Voynov only: "paper" or "original" (see PRESETS)
    jacobian_samples: int = 256
    supervised_samples: int = 4096
    probe_dir: str | None = None  # supervised: the phantom probe (default: models/_phantom-probe)
    checkpoint_dir: str | None = None  # Voynov: keep the training state here (saved every few minutes and at the end)
    resume: bool = False  # Voynov: continue the training state in checkpoint_dir

    def with_preset(self) -> DiscoveryRequest:
        """The request with its preset's values filled in (unchanged without a preset)."""
        if self.preset is None:
            return self
        if self.preset not in PRESETS:
            raise InvalidInputError(f"preset {self.preset!r} is unknown; allowed: {', '.join(PRESETS)}")
        if self.method != "voynov":
            raise InvalidInputError(f"--preset {self.preset} is a Voynov preset; it does not apply to method {self.method!r}")
        return dataclasses.replace(self, **PRESETS[self.preset])

    def check(self, latent_dim: int) -> DiscoveryRequest:
        method = get_method(self.method)
        if self.direction_model not in DIRECTION_MODELS:
            raise InvalidInputError(
                f"direction model {self.direction_model!r} is unknown; allowed: {', '.join(DIRECTION_MODELS)}"
            )
        if self.reconstructor not in RECONSTRUCTORS:
            raise InvalidInputError(f"reconstructor {self.reconstructor!r} is unknown; allowed: {', '.join(RECONSTRUCTORS)}")
        self._check_checkpointing()
        if self.method == "ica":  # before the model is loaded; the same check the method runs
            self.ica_config().check()
        count = self.resolved_count(latent_dim)
        if count < 1:
            raise InvalidInputError(f"-k {count}: a set needs at least one direction (K >= 1)")
        if self.method == "voynov" and self.direction_model == "ortho" and count != latent_dim:
            raise InvalidInputError(
                f"-k {count} does not fit the 'ortho' direction model: it needs K equal to the latent size {latent_dim}"
            )
        if count > method.max_count(latent_dim):
            raise InvalidInputError(
                f"-k {count} does not fit method {self.method!r}: it gives 1..{method.max_count(latent_dim)} directions"
            )
        validate_id("direction set id", self.resolved_set_id())
        return self

    def _check_checkpointing(self) -> None:
        if self.checkpoint_dir is not None and self.method != "voynov":
            raise InvalidInputError(f"--checkpoint applies to method 'voynov' only, not to {self.method!r}")
        if self.resume and self.checkpoint_dir is None:
            raise InvalidInputError("--resume needs --checkpoint DIR: the folder of the Voynov run to continue")

    def ica_config(self) -> IcaConfig:
        return IcaConfig(block=self.ganspace_block, samples=self.resolved_samples(), restarts=self.ica_restarts,
                         resamples=self.ica_resamples, contrast=self.ica_contrast, seed=self.seed)

    def resolved_samples(self) -> int:
        """GANSpace's and ICA's sample count: as asked, else the method's default (ICA needs more for its
        fourth moments)."""
        if self.ganspace_samples is not None:
            return int(self.ganspace_samples)
        return 8192 if self.method == "ica" else 2048

    def resolved_count(self, latent_dim: int) -> int:
        if self.count is not None:
            return int(self.count)
        default = get_method(self.method).default_count
        return latent_dim if default is None else default(latent_dim)

    def resolved_set_id(self) -> str:
        if self.set_id:
            return self.set_id
        if self.method == "voynov":
            return f"voynov-{self.preset}" if self.preset else f"voynov-{self.direction_model}"
        return self.method


def discover(model_dir: Path | str, request: DiscoveryRequest, device: str = "auto", progress: bool = True) -> DirectionSet:
    """Find directions with `request.method` and save them as `directions/<set_id>` of the model folder."""
    request = request.with_preset()
    get_method(request.method)  # an unknown method fails before the model is loaded
    torch_device = resolve_device(device)
    model = load_for_discovery(model_dir, torch_device)
    request.check(model.latent_dim)
    count = request.resolved_count(model.latent_dim)
    started = time.perf_counter()
    output = get_method(request.method).run(MethodContext(model, request, torch_device, progress))
    result = output.result
    metrics = {**result.metrics, "seconds_total": round(time.perf_counter() - started, 3)}
    return save_direction_set(
        model.path,
        request.resolved_set_id(),
        result.directions,
        method=request.method,
        params={"count": len(result.directions) if request.method == "supervised" else count, **result.params},
        direction_metrics=result.direction_metrics,
        metrics=metrics,
        extra={"provenance": provenance({"model": model.path.name}), **output.extra},
    )
