"""Image -> latent: the VAE's encoder mean, or for a GAN a seeded, fixed-length latent optimisation.

Inputs are prepared like the training data (HU, padded to square with air, Lanczos to image_size, clipped to the
model's hu_range and mapped to [-1, 1]). All device work runs on the inference engine's worker; the optimisation runs
in short slices so image requests queued meanwhile are served between them.

GAN optimisation: OPT_CANDIDATES seeded starting latents are scored in one batch and the best is refined by Adam
(lr OPT_LR) for OPT_STEPS steps on MSE(G(z), x) + OPT_PRIOR_WEIGHT * mean(z^2) (the prior keeps z where the
generator was trained). Same image, same latent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from latentct.core.errors import InvalidInputError
from latentct.core.hu import hu_to_unit, unit_to_hu
from latentct.data.ingest import resize_hu
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.errors import EncodeCancelledError
from latentct.rendering.registry import ServedModel

OPT_STEPS = 150
OPT_SLICE_STEPS = 10  # steps per engine call: at most this long between other requests
OPT_CANDIDATES = 16
OPT_LR = 0.05
OPT_PRIOR_WEIGHT = 1e-3
OPT_SEED = 0


@dataclass(frozen=True)
class EncodeResult:
    latent: list[float]
    method: str  # "encoder" | "optimization"
    reconstruction_mae_hu: float
    steps: int
    seconds: float
    # the prepared slice and G(latent), both (image_size, image_size) HU: what the error was measured between
    original_hu: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), repr=False)
    reconstruction_hu: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), repr=False)


def prepare_slice(hu: np.ndarray, model: ServedModel) -> np.ndarray:
    """HU slice (H, W) -> (image_size, image_size) float32 in [-1, 1], as the training data was made."""
    resized = resize_hu(hu, model.image_size)
    return np.asarray(hu_to_unit(resized, model.hu_range), dtype=np.float32)


def _encoder_mean(model: ServedModel, image: np.ndarray) -> torch.Tensor:
    assert model.encoder is not None
    x = torch.from_numpy(image)[None, None].to(model.device, model.dtype)  # (1, 1, H, W)
    with torch.inference_mode():
        mean, _ = model.encoder(x)
    return mean[0].float().cpu()


class _LatentOptimisation:
    """State of one GAN inversion; `run_slice` advances it by up to OPT_SLICE_STEPS steps (on the worker thread)."""

    def __init__(self, model: ServedModel, image: np.ndarray) -> None:
        self.model = model
        self.target = torch.from_numpy(image)[None, None].to(model.device, torch.float32)  # (1, 1, H, W)
        self.steps_done = 0
        self.z: torch.Tensor | None = None
        self.optimizer: torch.optim.Optimizer | None = None

    def _start(self) -> None:
        model = self.model
        candidates = torch.randn(OPT_CANDIDATES, model.latent_dim, generator=torch.Generator().manual_seed(OPT_SEED))
        with torch.inference_mode():
            images = model.generator(candidates.to(model.device, model.dtype)).float()
            errors = ((images - self.target) ** 2).flatten(1).mean(1)
        best = candidates[int(errors.argmin())]
        self.z = best[None].clone().to(model.device, torch.float32).requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.z], lr=OPT_LR)

    def run_slice(self) -> None:
        if self.z is None:
            self._start()
        assert self.z is not None and self.optimizer is not None
        with torch.enable_grad():
            for _ in range(min(OPT_SLICE_STEPS, OPT_STEPS - self.steps_done)):
                self.optimizer.zero_grad(set_to_none=True)
                output = self.model.generator(self.z.to(self.model.dtype)).float()
                loss = F.mse_loss(output, self.target) + OPT_PRIOR_WEIGHT * self.z.pow(2).mean()
                loss.backward()
                self.optimizer.step()
                self.steps_done += 1

    @property
    def done(self) -> bool:
        return self.steps_done >= OPT_STEPS

    def latent(self) -> torch.Tensor:
        assert self.z is not None
        return self.z.detach()[0].cpu()


async def _optimised_latent(
    engine: InferenceEngine, model: ServedModel, image: np.ndarray, cancelled: Callable[[], Awaitable[bool]] | None
) -> torch.Tensor:
    """GAN inversion in slices of OPT_SLICE_STEPS; between slices, stop when `cancelled()` says the client left."""
    optimisation = _LatentOptimisation(model, image)
    while not optimisation.done:
        if cancelled is not None and await cancelled():
            raise EncodeCancelledError(f"encoding for model {model.id!r} stopped after {optimisation.steps_done} steps")
        await engine.call(optimisation.run_slice)
    return optimisation.latent()


async def encode_slice(
    engine: InferenceEngine,
    model: ServedModel,
    image: np.ndarray,
    cancelled: Callable[[], Awaitable[bool]] | None = None,
) -> EncodeResult:
    """Prepared slice (image_size, image_size) in [-1, 1] -> latent, method, mean absolute reconstruction error in HU.

    `cancelled` (optional): awaited between optimisation slices; True stops the work (EncodeCancelledError).
    """
    started = time.perf_counter()
    if model.encoder is not None:
        latent = await engine.call(lambda: _encoder_mean(model, image))
        method, steps = "encoder", 0
    else:
        latent = await _optimised_latent(engine, model, image, cancelled)
        method, steps = "optimization", OPT_STEPS
    latent = latent.to(torch.float32).contiguous()
    if not torch.isfinite(latent).all():
        raise InvalidInputError(f"model {model.id!r} found no finite latent for this image; check that it is a CT slice in HU")
    reconstruction = (await engine.generate(model, latent[None]))[0]
    original_hu = np.asarray(unit_to_hu(image, model.hu_range), dtype=np.float32)
    reconstruction_hu = np.asarray(unit_to_hu(reconstruction, model.hu_range), dtype=np.float32).reshape(original_hu.shape)
    return EncodeResult(
        latent=[float(v) for v in latent],
        method=method,
        reconstruction_mae_hu=float(np.abs(reconstruction_hu - original_hu).mean()),
        steps=steps,
        seconds=time.perf_counter() - started,
        original_hu=original_hu,
        reconstruction_hu=reconstruction_hu,
    )
