"""The phantom probe's files: `probe.json` (arch, factor names and scales, test accuracy) plus `probe.safetensors`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from latentct import INTENDED_USE
from latentct.artifacts._io import read_json, read_tensors, write_json, write_tensors
from latentct.core.config import default_models_dir
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.nets.probe import PhantomProbe

PROBE_JSON = "probe.json"
PROBE_WEIGHTS = "probe.safetensors"
PROBE_DIR_NAME = "_phantom-probe"  # leading "_": the model registry does not list it
FORMAT_VERSION = 1
_ARCH_KEYS = ("image_size", "width", "n_factors", "feature_dim")
_CHUNK = 256


def default_probe_dir() -> Path:
    """Where the shipped probe lives: `models/_phantom-probe`."""
    return default_models_dir() / PROBE_DIR_NAME


@dataclass
class Probe:
    """A loaded probe: `predict` gives factors in their own units, `features` the Frechet feature space."""

    net: PhantomProbe
    meta: dict[str, Any]
    factor_mean: torch.Tensor  # (F,)
    factor_std: torch.Tensor  # (F,)

    @property
    def factor_names(self) -> list[str]:
        return list(self.meta["factor_names"])

    @property
    def image_size(self) -> int:
        return self.net.image_size

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 1:
            raise InvalidInputError(f"images must have shape [B, 1, H, W], got {list(images.shape)}")
        images = images.to(self.device, torch.float32)
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            # A model at another resolution is compared at the probe's; antialiasing avoids aliasing the noise.
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        return images

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 1, H, W] in [-1, 1] -> float32 [B, feature_dim] on the CPU (evaluated in chunks)."""
        self.net.eval()
        chunks = [self.net.features(self._prepare(images[i : i + _CHUNK])).float().cpu() for i in range(0, len(images), _CHUNK)]
        return torch.cat(chunks) if chunks else torch.empty(0, self.net.feature_dim)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 1, H, W] in [-1, 1] -> factors [B, F] in their own units (degrees, px, HU, ...), on the CPU."""
        self.net.eval()
        chunks = [self.net(self._prepare(images[i : i + _CHUNK])).float().cpu() for i in range(0, len(images), _CHUNK)]
        standardised = torch.cat(chunks) if chunks else torch.empty(0, self.net.n_factors)
        return standardised * self.factor_std + self.factor_mean


def _check_scales(meta: dict[str, Any], n_factors: int, where: str) -> None:
    names, mean, std = meta.get("factor_names"), meta.get("factor_mean"), meta.get("factor_std")
    for key, value in (("factor_names", names), ("factor_mean", mean), ("factor_std", std)):
        if not isinstance(value, list) or len(value) != n_factors:
            raise ArtifactError(f"{where}: field {key!r} must be a list of {n_factors} entries, got {value!r}")
    if not all(isinstance(s, (int, float)) and math.isfinite(s) and s > 0 for s in std):  # type: ignore[union-attr]
        raise ArtifactError(f"{where}: field 'factor_std' must hold finite values > 0, got {std!r}")


def save_probe(probe_dir: Path | str, net: PhantomProbe, meta: dict[str, Any]) -> dict[str, Any]:
    """Write the weights, then `probe.json` (arch from the net; `meta` must hold factor_names/_mean/_std)."""
    probe_dir = Path(probe_dir)
    arch = {key: int(getattr(net, key)) for key in _ARCH_KEYS}
    try:
        _check_scales(meta, arch["n_factors"], "probe meta")
    except ArtifactError as exc:
        raise InvalidInputError(str(exc)) from None
    checksum = write_tensors(probe_dir / PROBE_WEIGHTS, net.state_dict())
    card: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "kind": "phantom-probe",
        "arch": arch,
        **{k: v for k, v in meta.items() if k not in {"arch", "checksum", "format_version", "kind"}},
        "intended_use": INTENDED_USE,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checksum": checksum,
    }
    write_json(probe_dir / PROBE_JSON, card)
    return card


def load_probe(probe_dir: Path | str | None = None, device: str | torch.device = "cpu") -> Probe:
    """Load a probe folder (default: the shipped one), checked against its card, in eval mode on `device`."""
    probe_dir = Path(probe_dir) if probe_dir is not None else default_probe_dir()
    json_path = probe_dir / PROBE_JSON
    if not json_path.is_file():
        raise ArtifactError(f"{probe_dir}: no phantom probe here ({PROBE_JSON} is missing; make one with `latentct train probe`)")
    meta = read_json(json_path)
    arch = meta.get("arch")
    if not isinstance(arch, dict) or set(arch) != set(_ARCH_KEYS):
        raise ArtifactError(f"{json_path}: field 'arch' must have keys {list(_ARCH_KEYS)}, got {arch!r}")
    try:
        net = PhantomProbe(**arch)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"{json_path}: field 'arch': {exc}") from None
    _check_scales(meta, net.n_factors, str(json_path))
    state = read_tensors(probe_dir / PROBE_WEIGHTS, meta.get("checksum"))
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:3])
        raise ArtifactError(f"{probe_dir / PROBE_WEIGHTS}: weights do not fit arch {arch}: {detail}") from None
    return Probe(
        net=net.to(device).eval(),
        meta=meta,
        factor_mean=torch.tensor(meta["factor_mean"], dtype=torch.float32),
        factor_std=torch.tensor(meta["factor_std"], dtype=torch.float32),
    )
