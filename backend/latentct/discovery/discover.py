"""Run one discovery method on a model folder and save the result as a direction set beside the model."""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentct.artifacts import DirectionSet, save_direction_set, validate_id
from latentct.discovery.closed_form import ClosedFormResult, baseline, ganspace, sefa
from latentct.discovery.common import load_for_discovery, resolve_device
from latentct.discovery.voynov import VoynovConfig, config_params, train_voynov
from latentct.errors import InvalidInputError
from latentct.nets.directions import DIRECTION_MODELS
from latentct.nets.reconstructors import RECONSTRUCTORS

METHODS = ("voynov", "sefa", "ganspace", "random", "axes")


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
    ganspace_samples: int = 2048
    amp_bf16: bool = False
    rca_samples: int = 1024
    max_minutes: float | None = None

    def check(self, latent_dim: int) -> DiscoveryRequest:
        if self.method not in METHODS:
            raise InvalidInputError(f"method {self.method!r} is unknown; allowed: {', '.join(METHODS)}")
        if self.direction_model not in DIRECTION_MODELS:
            raise InvalidInputError(
                f"direction model {self.direction_model!r} is unknown; allowed: {', '.join(DIRECTION_MODELS)}"
            )
        if self.reconstructor not in RECONSTRUCTORS:
            raise InvalidInputError(f"reconstructor {self.reconstructor!r} is unknown; allowed: {', '.join(RECONSTRUCTORS)}")
        count = self.resolved_count(latent_dim)
        if self.method == "voynov" and self.direction_model == "ortho" and count != latent_dim:
            raise InvalidInputError(
                f"-k {count} does not fit the 'ortho' direction model: it needs K equal to the latent size {latent_dim}"
            )
        if self.method in ("sefa", "random", "axes") and not 1 <= count <= latent_dim:
            raise InvalidInputError(f"-k {count} does not fit method {self.method!r}: it gives 1..{latent_dim} directions")
        validate_id("direction set id", self.resolved_set_id())
        return self

    def resolved_count(self, latent_dim: int) -> int:
        return latent_dim if self.count is None else int(self.count)

    def resolved_set_id(self) -> str:
        if self.set_id:
            return self.set_id
        return f"voynov-{self.direction_model}" if self.method == "voynov" else self.method


def _provenance(model_dir: Path) -> dict[str, Any]:
    return {
        "command": " ".join(["latentct", *sys.argv[1:]]) if sys.argv and "latentct" in sys.argv[0] else None,
        "model": model_dir.name,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _voynov(
    request: DiscoveryRequest,
    generator: torch.nn.Module,
    latent_dim: int,
    image_size: int,
    device: torch.device,
    progress: bool,
) -> tuple[ClosedFormResult, dict[str, Any]]:
    config = VoynovConfig(
        count=request.resolved_count(latent_dim),
        direction_model=request.direction_model,
        reconstructor=request.reconstructor,
        steps=request.steps,
        batch_size=request.batch_size,
        lr=request.lr,
        direction_lr=request.direction_lr,
        seed=request.seed,
        amp_bf16=request.amp_bf16,
        rca_samples=request.rca_samples,
        max_minutes=request.max_minutes,
    )
    result = train_voynov(generator, latent_dim, image_size, config, device, progress=progress)
    params = {**config_params(config), "device": device.type, "paper_steps": 3000, "paper_batch_size": 128}
    extra: dict[str, Any] = {"history": result.history[-50:]}
    if request.direction_model == "linear":
        extra["export_note"] = (
            "trained as a free linear map; rows are saved normalised. One served unit of shift equals "
            "1 / trained_norm trained units (see directions[i].metrics.trained_norm)."
        )
    elif request.direction_model == "unit":
        extra["export_note"] = "trained with unit rows (normalised in every forward pass): served units equal trained units"
    else:
        extra["export_note"] = "trained orthonormal (matrix exponential of a skew-symmetric matrix): served units equal trained"
    return ClosedFormResult(result.directions, result.direction_metrics, result.metrics, params), extra


def discover(model_dir: Path | str, request: DiscoveryRequest, device: str = "auto", progress: bool = True) -> DirectionSet:
    """Find directions with `request.method` and save them as `directions/<set_id>` of the model folder."""
    torch_device = resolve_device(device)
    model = load_for_discovery(model_dir, torch_device)
    request.check(model.latent_dim)
    count = request.resolved_count(model.latent_dim)
    started = time.perf_counter()
    extra: dict[str, Any] = {}
    if request.method == "voynov":
        result, extra = _voynov(request, model.generator, model.latent_dim, model.image_size, torch_device, progress)
    elif request.method == "sefa":
        result = sefa(model.generator, model.latent_dim, count)
    elif request.method == "ganspace":
        result = ganspace(
            model.generator,
            model.latent_dim,
            count,
            block=request.ganspace_block,
            n_samples=request.ganspace_samples,
            seed=request.seed,
            device=torch_device,
            progress=progress,
        )
    else:
        result = baseline(request.method, model.latent_dim, count, seed=request.seed)
    metrics = {**result.metrics, "seconds_total": round(time.perf_counter() - started, 3)}
    return save_direction_set(
        model.path,
        request.resolved_set_id(),
        result.directions,
        method=request.method,
        params={"count": count, **result.params},
        direction_metrics=result.direction_metrics,
        metrics=metrics,
        extra={"provenance": _provenance(model.path), **extra},
    )
