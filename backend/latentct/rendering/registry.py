"""The model registry: every model folder of the models dir loaded onto the serving device, with its direction sets.

A folder that fails to load is recorded by name with its error and the others still serve. The registry is built in
the app's lifespan (never at import) and implements latentct.artifacts.catalog.DirectionCatalog for the label layer.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentct import INTENDED_USE
from latentct.artifacts import list_direction_sets, list_model_dirs, load_direction_set, load_model, validate_id
from latentct.artifacts.cards import ModelCard, Scorecard
from latentct.artifacts.catalog import SetIdentity
from latentct.artifacts.directions import load_scorecard
from latentct.core.errors import ArtifactError, NotFoundError
from latentct.core.hardware import cpu_has_native_bf16
from latentct.nets.fused import form_name, serving_form
from latentct.rendering.errors import NotReadyError, public_detail

log = logging.getLogger(__name__)

# Seeded latents on which reduced-precision output is compared with float32 before it is used. 64, not 16: a
# mixed form we tried (the demo GAN in bfloat16 with float32 first and last layers; not shipped) put 45 of 1024
# images over the tolerance (max 18.7 HU); a 16-image check would pass it about half the time, 64 one time in 18.
HALF_CHECK_SAMPLES = 64
HALF_CHECK_SEED = 20240601
Forward = Callable[[torch.Tensor], torch.Tensor]


def half_tolerance_hu(hu_range: tuple[float, float]) -> float:
    """Reduced precision is used only if no pixel moves by more than one grey level of the full window: (hi - lo) / 255 HU."""
    return (hu_range[1] - hu_range[0]) / 255.0


def reduced_precision_dtype(device: torch.device) -> torch.dtype | None:
    """float16 on CUDA, bfloat16 on CPUs that compute it natively, else None."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


@dataclass(frozen=True)
class ServedDirectionSet:
    """A direction set as served. Directions stay on the CPU: latents are built there (see rendering/latents.py)."""

    id: str
    method: str
    count: int
    checksum: str
    directions: torch.Tensor  # (K, latent_dim) float32, CPU, unit rows
    params: dict[str, Any]
    direction_metrics: list[dict[str, Any]]  # per direction, index order
    trained: float | None = None  # a trained set's share of its schedule (DirectionSetCard.trained_share)


@dataclass
class ServedModel:
    """A loaded model on the serving device: nets in eval mode with frozen weights, and what the API shows of it."""

    id: str
    kind: str
    latent_dim: int
    image_size: int
    hu_range: tuple[float, float]
    description: str
    generator_checksum: str
    generator: nn.Module  # eager; (B, latent_dim) -> (B, 1, H, W) in [-1, 1]; latent optimisation differentiates it
    encoder: nn.Module | None  # VAE only; image -> (mean, log_var)
    device: torch.device
    dtype: torch.dtype
    half_error_hu: float | None = None  # measured max deviation of reduced precision from float32, when considered
    form: nn.Module | None = None  # the serving form (nets/fused.py) the engine runs; None: the generator
    forward: Forward | None = None  # the compiled serving form, when --compile is on and compiling worked
    compiled: bool = False
    sets: dict[str, ServedDirectionSet] = field(default_factory=dict)
    broken_sets: dict[str, str] = field(default_factory=dict)
    intended_use: str = INTENDED_USE
    scorecard: Scorecard | None = None  # models/<id>/scorecard.json when `latentct scorecard` has written one
    data: dict[str, Any] = field(default_factory=dict)  # the card's `data` section: where the training slices came from

    @property
    def backend_key(self) -> str:
        """What, besides weights and query, decides the output bytes; part of every ETag."""
        precision = str(self.dtype).removeprefix("torch.")
        form = form_name(self.form) if self.form is not None else "eager"
        return f"{self.device.type}-{precision}-channels_last-{form}" + ("-compiled" if self.compiled else "")

    @property
    def served_module(self) -> nn.Module:
        """The serving form as a module (uncompiled), else the generator: what local directions render with."""
        return self.form if self.form is not None else self.generator

    def run_forward(self, latents: torch.Tensor) -> torch.Tensor:
        """The compiled form if there is one, else the serving form, else the eager generator."""
        if self.forward is not None:  # not `or`: a compiled module has no bool
            return self.forward(latents)
        return (self.form if self.form is not None else self.generator)(latents)

    def fall_back_to_eager(self) -> None:
        """Drop the compiled form (compiling failed at warm-up); the serving form runs uncompiled from now on.

        `compiled` is part of `backend_key`, so the ETags change with it: the eager bytes may differ by rounding.
        """
        self.forward, self.compiled = None, False

    def direction_set(self, set_id: str) -> ServedDirectionSet:
        validate_id("direction set id", set_id)
        if set_id in self.sets:
            return self.sets[set_id]
        if set_id in self.broken_sets:
            raise NotFoundError(f"direction set {set_id!r} of model {self.id!r} failed to load: {self.broken_sets[set_id]}")
        known = ", ".join(sorted(self.sets)) or "none"
        raise NotFoundError(f"model {self.id!r} has no direction set {set_id!r}; it has: {known}")


def _frozen(module: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    # channels-last (NHWC): oneDNN and cuDNN convolutions run faster in it (the demo VAE at batch 8 on one CPU core:
    # 4.4 instead of 8.4 ms per image); results equal the default layout's up to float rounding
    module = module.to(device=device, dtype=dtype, memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
    for parameter in module.parameters():
        parameter.requires_grad_(False)  # serving never trains; latent optimisation needs gradients for z only
    return module


def _reduced_error_hu(
    generator: nn.Module, latent_dim: int, hu_range: tuple[float, float], device: torch.device, dtype: torch.dtype
) -> float:
    """Largest |served form in reduced precision - eager float32| over HALF_CHECK_SAMPLES seeded images, in HU."""
    z = torch.randn(HALF_CHECK_SAMPLES, latent_dim, generator=torch.Generator().manual_seed(HALF_CHECK_SEED)).to(device)
    reduced = serving_form(copy.deepcopy(generator)).to(dtype)
    with torch.inference_mode():
        reference = generator(z).float()
        approx = reduced(z.to(dtype)).float()
    return float((approx - reference).abs().max()) * (hu_range[1] - hu_range[0]) / 2.0


def _choose_dtype(
    generator: nn.Module, latent_dim: int, hu_range: tuple[float, float], device: torch.device, mode: str
) -> tuple[torch.dtype, float | None]:
    """Reduced precision (see `reduced_precision_dtype`) when `mode` is 'on', or 'auto' and the error is tolerable."""
    reduced = reduced_precision_dtype(device)
    if reduced is None or mode == "off":
        return torch.float32, None
    error_hu = _reduced_error_hu(generator, latent_dim, hu_range, device, reduced)
    if mode == "on" or error_hu <= half_tolerance_hu(hu_range):
        return reduced, error_hu
    log.info("%s kept off: max error %.2f HU > tolerance %.2f HU", reduced, error_hu, half_tolerance_hu(hu_range))
    return torch.float32, error_hu


def _compiled(generator: nn.Module) -> Forward:
    """torch.compile with frozen weights (inductor folds the constant parameters); dynamic in the batch size."""
    return torch.compile(generator, dynamic=True, options={"freezing": True})  # type: ignore[return-value]


def _load_sets(model_dir: Path, card: ModelCard, served: ServedModel) -> None:
    for set_id in list_direction_sets(model_dir):
        try:
            loaded = load_direction_set(model_dir, set_id, card)
        except Exception as exc:  # one broken set must not take the model down; it is reported by name
            # the public reason names the file and the problem; the path stays in the log
            served.broken_sets[set_id] = public_detail(str(exc) or type(exc).__name__, model_dir)
            log.warning("model %s: direction set %s not served: %s", served.id, set_id, exc)
            continue
        served.sets[set_id] = ServedDirectionSet(
            id=set_id,
            method=loaded.method,
            count=loaded.count,
            checksum=loaded.checksum,
            directions=loaded.directions.contiguous(),
            params=dict(loaded.card.params),
            direction_metrics=loaded.card.direction_metrics(),
            trained=loaded.card.trained_share(),
        )


def use_strict_float32(device: torch.device) -> None:
    """On CUDA, float32 convolutions and matmuls in float32, not TF32 (cuDNN's default for convolutions).

    TF32 keeps 10 mantissa bits: served "float32" images would differ from the CPU's by more than rounding, and the
    reference the reduced-precision check measures against would itself be reduced. Speed on a GPU comes from float16,
    taken only where measured within tolerance. Process-wide: a serving process serves only.
    """
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def load_served_model(model_dir: Path, device: torch.device, half_precision: str = "auto", compile: bool = False) -> ServedModel:
    """Load one model folder for serving; raises the artifact layer's errors for a broken folder."""
    validate_id("model folder name", model_dir.name)
    use_strict_float32(device)
    loaded = load_model(model_dir, device="cpu", components=("generator", "encoder"))
    hu_range = loaded.hu_range
    generator = _frozen(loaded.generator, device, torch.float32)  # the float32 reference the error is measured against
    dtype, half_error = _choose_dtype(generator, loaded.latent_dim, hu_range, device, half_precision)
    form = serving_form(generator).to(dtype)  # folded from the float32 weights, then cast
    served = ServedModel(
        id=loaded.id,
        kind=loaded.kind,
        latent_dim=loaded.latent_dim,
        image_size=loaded.image_size,
        hu_range=hu_range,
        description=loaded.card.description,
        generator_checksum=loaded.generator_checksum,
        generator=_frozen(generator, device, dtype),
        form=form if form is not generator else None,
        encoder=_frozen(loaded.encoder, device, dtype) if loaded.encoder is not None else None,
        device=device,
        dtype=dtype,
        half_error_hu=half_error,
        intended_use=loaded.card.intended_use,
        data=copy.deepcopy(loaded.card.data),
    )
    if compile and device.type == "cpu":
        served.forward, served.compiled = _compiled(served.form if served.form is not None else served.generator), True
    _load_sets(model_dir, loaded.card, served)
    served.scorecard = _scorecard_of(model_dir)
    return served


def _scorecard_of(model_dir: Path) -> Scorecard | None:
    """The model's scorecard, or None when there is none or it is unreadable (the model is served either way)."""
    try:
        return load_scorecard(model_dir)
    except (NotFoundError, ArtifactError):
        return None


class ModelRegistry:
    """Served models by id, the folders that failed by name, and whether warm-up has finished.

    `load_all` runs once, on the inference engine's worker thread; reads from request handlers see either the empty
    registry (NotReadyError) or the complete one, never a half-filled dict.
    """

    def __init__(self, models_dir: Path, device: torch.device, half_precision: str = "auto", compile: bool = False) -> None:
        self.models_dir = Path(models_dir)
        self.device = device
        self.half_precision = half_precision
        self.compile = compile
        self._models: dict[str, ServedModel] = {}
        self._broken: dict[str, str] = {}
        self._loaded = False
        self._ready = False
        self._lock = threading.Lock()

    # lifecycle ------------------------------------------------------------------------------------------------

    def load_all(self) -> None:
        """Load every model folder; a folder that fails is recorded in `broken` with its error."""
        models: dict[str, ServedModel] = {}
        broken: dict[str, str] = {}
        for model_dir in list_model_dirs(self.models_dir):
            try:
                served = load_served_model(model_dir, self.device, self.half_precision, self.compile)
            except Exception as exc:  # report the folder by name; the others still load
                detail = str(exc) or type(exc).__name__
                log.error("model folder %s not served: %s", model_dir.name, detail)
                # /api/health and /api/ready are public: the reason without the server's paths (those are logged above)
                broken[model_dir.name] = public_detail(detail, model_dir, self.models_dir)
                continue
            models[served.id] = served
            log.info("model %s: %s on %s (%s), sets %s", served.id, served.kind, self.device, served.dtype, sorted(served.sets))
        with self._lock:
            self._models, self._broken, self._loaded = models, broken, True

    def mark_broken(self, model_id: str, reason: str) -> None:
        """Take a model out of service (e.g. its warm-up failed), keeping the reason (without paths) for /api/health."""
        log.error("model %s taken out of service: %s", model_id, reason)
        reason = public_detail(reason, self.models_dir / model_id, self.models_dir)
        with self._lock:
            models = dict(self._models)
            models.pop(model_id, None)
            self._models, self._broken = models, {**self._broken, model_id: reason}

    def mark_ready(self) -> None:
        self._ready = True

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def broken(self) -> dict[str, str]:
        return dict(self._broken)

    # lookups --------------------------------------------------------------------------------------------------

    def models(self) -> list[ServedModel]:
        """Served models sorted by id (empty until loading has finished)."""
        return [self._models[k] for k in sorted(self._models)]

    def get(self, model_id: str) -> ServedModel:
        validate_id("model id", model_id)
        if not self._ready:
            raise NotReadyError("the models are still loading and warming up; retry shortly")
        if model_id in self._models:
            return self._models[model_id]
        if model_id in self._broken:
            raise NotFoundError(f"model {model_id!r} is in the models dir but failed to load: {self._broken[model_id]}")
        known = ", ".join(sorted(self._models)) or "none"
        raise NotFoundError(f"model {model_id!r} not found; served models: {known}")

    def direction_set(self, model_id: str, set_id: str) -> ServedDirectionSet:
        return self.get(model_id).direction_set(set_id)

    def direction_set_identity(self, model_id: str, set_id: str) -> SetIdentity:
        """DirectionCatalog for the label layer; NotFoundError for an unknown model or set."""
        model = self.get(model_id)
        direction_set = model.direction_set(set_id)
        return SetIdentity(
            model_id=model.id,
            model_checksum=model.generator_checksum,
            set_id=direction_set.id,
            set_checksum=direction_set.checksum,
            count=direction_set.count,
        )
