"""Model folders: `model.json` (the card) plus safetensors weights, rebuilt from constructor arguments."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentct import INTENDED_USE
from latentct.artifacts._io import read_json, read_tensors, write_json, write_tensors
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.nets import COMPONENTS, build_component, check_arch

FORMAT_VERSION = 1
MANIFEST = "model.json"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def validate_id(what: str, value: str) -> str:
    """Model and set ids are path segments: letters, digits, '.', '_', '-', at most 64, never '..'."""
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value) or ".." in value:
        raise InvalidInputError(
            f"{what} {value!r} is not a valid id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def weights_file(component: str) -> str:
    return f"{component}.safetensors"


@dataclass
class LoadedModel:
    """A model folder loaded for use: its card, the requested components in eval mode, and checksums."""

    path: Path
    manifest: dict[str, Any]
    components: dict[str, nn.Module] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def latent_dim(self) -> int:
        return int(self.manifest["latent_dim"])

    @property
    def image_size(self) -> int:
        return int(self.manifest["image_size"])

    @property
    def hu_range(self) -> tuple[float, float]:
        lo, hi = self.manifest["hu_range"]
        return float(lo), float(hi)

    @property
    def generator(self) -> nn.Module:
        return self.components["generator"]

    @property
    def encoder(self) -> nn.Module | None:
        return self.components.get("encoder")

    @property
    def discriminator(self) -> nn.Module | None:
        return self.components.get("discriminator")

    @property
    def generator_checksum(self) -> str:
        return str(self.manifest["checksums"]["generator"])


def _require(manifest: dict[str, Any], key: str, path: Path) -> Any:
    if key not in manifest:
        raise ArtifactError(f"{path}: missing field {key!r}")
    return manifest[key]


def _validate_manifest(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    kind = _require(manifest, "kind", path)
    if kind not in COMPONENTS:
        raise ArtifactError(f"{path}: field 'kind' must be one of {sorted(COMPONENTS)}, got {kind!r}")
    arch = _require(manifest, "arch", path)
    try:
        check_arch(kind, arch)
    except ValueError as exc:
        raise ArtifactError(f"{path}: field 'arch': {exc}") from None
    for key in ("latent_dim", "image_size"):
        value = _require(manifest, key, path)
        if arch.get(key, value) != value:
            raise ArtifactError(f"{path}: field {key!r} = {value} disagrees with arch.{key} = {arch[key]}")
    hu_range = _require(manifest, "hu_range", path)
    if not (isinstance(hu_range, list) and len(hu_range) == 2 and float(hu_range[0]) < float(hu_range[1])):
        raise ArtifactError(f"{path}: field 'hu_range' must be [low, high] with low < high, got {hu_range!r}")
    checksums = _require(manifest, "checksums", path)
    if "generator" not in checksums:
        raise ArtifactError(f"{path}: field 'checksums' has no 'generator' entry")
    return manifest


def load_manifest(model_dir: Path | str) -> dict[str, Any]:
    """Read and validate `model.json`; its `id` must equal the folder name."""
    model_dir = Path(model_dir)
    path = model_dir / MANIFEST
    manifest = _validate_manifest(read_json(path), path)
    if manifest.get("id") != model_dir.name:
        raise ArtifactError(f"{path}: field 'id' = {manifest.get('id')!r} must equal the folder name {model_dir.name!r}")
    return manifest


def _load_component(model_dir: Path, manifest: dict[str, Any], component: str) -> nn.Module:
    path = model_dir / weights_file(component)
    state = read_tensors(path, manifest["checksums"].get(component))
    net = build_component(manifest["kind"], component, manifest["arch"])
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first_line[:3])
        raise ArtifactError(f"{path}: weights do not fit arch {manifest['arch']}: {detail}") from None
    bad = [name for name, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ArtifactError(f"{path}: non-finite values in {bad[:3]}")
    return net.eval()


def load_model(
    model_dir: Path | str, device: str | torch.device = "cpu", components: tuple[str, ...] = ("generator", "encoder")
) -> LoadedModel:
    """Load the named components that the folder has (the generator must be there), in eval mode, on `device`."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ArtifactError(f"{model_dir}: model folder not found")
    manifest = load_manifest(model_dir)
    if not (model_dir / weights_file("generator")).is_file():
        raise ArtifactError(f"{model_dir}: no generator ({weights_file('generator')} is missing)")
    loaded = LoadedModel(path=model_dir, manifest=manifest)
    for component in components:
        if component in COMPONENTS[manifest["kind"]] and (model_dir / weights_file(component)).is_file():
            loaded.components[component] = _load_component(model_dir, manifest, component).to(device)
    return loaded


def save_model(
    model_dir: Path | str,
    *,
    kind: str,
    arch: dict[str, Any],
    nets: dict[str, nn.Module],
    hu_range: tuple[float, float] = (-1000.0, 2000.0),
    description: str = "",
    data: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write weights (one safetensors file per component) then `model.json` last, each atomically.

    The folder name is the model id. Returns the manifest written.
    """
    model_dir = Path(model_dir)
    validate_id("model id", model_dir.name)
    try:
        check_arch(kind, arch)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if "generator" not in nets:
        raise InvalidInputError("a model needs a 'generator' network")
    unknown = set(nets) - set(COMPONENTS[kind])
    if unknown:
        raise InvalidInputError(f"a {kind} has no component(s) {sorted(unknown)}; allowed: {sorted(COMPONENTS[kind])}")
    checksums = {name: write_tensors(model_dir / weights_file(name), net.state_dict()) for name, net in nets.items()}
    generator = nets["generator"]
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "id": model_dir.name,
        "kind": kind,
        "arch": dict(arch),
        "latent_dim": int(getattr(generator, "latent_dim", arch.get("latent_dim", 0))),
        "image_size": int(getattr(generator, "image_size", arch.get("image_size", 0))),
        "hu_range": [float(hu_range[0]), float(hu_range[1])],
        "description": description,
        "intended_use": INTENDED_USE,
        "data": data or {},
        "training": training or {},
        "metrics": metrics or {},
        "provenance": {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(provenance or {})},
        "checksums": checksums,
    }
    _validate_manifest(manifest, model_dir / MANIFEST)
    write_json(model_dir / MANIFEST, manifest)
    return manifest


def update_manifest(model_dir: Path | str, updates: dict[str, Any]) -> dict[str, Any]:
    """Merge `updates` into `model.json` (dicts merged one level deep) and rewrite it atomically."""
    model_dir = Path(model_dir)
    manifest = load_manifest(model_dir)
    protected = {"id", "kind", "arch", "checksums", "latent_dim", "image_size", "format_version"}
    clash = protected & set(updates)
    if clash:
        raise InvalidInputError(f"fields {sorted(clash)} of model.json cannot be updated; save the model again")
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key] = {**manifest[key], **value}
        else:
            manifest[key] = value
    write_json(model_dir / MANIFEST, manifest)
    return manifest


def list_model_dirs(models_dir: Path | str) -> list[Path]:
    """Every sub-folder of `models_dir` that holds a `model.json`, sorted by name (valid or not)."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file() and not p.name.startswith("."))
