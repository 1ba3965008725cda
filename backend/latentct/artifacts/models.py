"""Model folders: `model.json` (the card) plus safetensors weights, rebuilt from constructor arguments."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentct import INTENDED_USE
from latentct.artifacts._io import read_tensors, write_tensors
from latentct.artifacts.cards import ModelCard, read_card, update_card, write_card
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.nets import COMPONENTS, build_component, check_arch
from latentct.nets.fused import serving_form

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
    card: ModelCard
    components: dict[str, nn.Module] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def kind(self) -> str:
        return self.card.kind

    @property
    def latent_dim(self) -> int:
        return self.card.latent_dim

    @property
    def image_size(self) -> int:
        return self.card.image_size

    @property
    def hu_range(self) -> tuple[float, float]:
        return self.card.hu_range

    @property
    def generator(self) -> nn.Module:
        return self.components["generator"]

    @cached_property
    def fused_generator(self) -> nn.Module:
        """The generator as the engine runs it (nets/fused.py): the same function to float rounding, with frozen
        weights, 1.4x (DCGAN) to 2.6x (VAE) faster on a CPU; gradients still flow to z. Discovery and measurement
        render with it; methods that read layers or weights (GANSpace, SeFa) use `generator`."""
        return serving_form(self.generator)

    @property
    def encoder(self) -> nn.Module | None:
        return self.components.get("encoder")

    @property
    def discriminator(self) -> nn.Module | None:
        return self.components.get("discriminator")

    @property
    def generator_checksum(self) -> str:
        return self.card.generator_checksum


def load_model_card(model_dir: Path | str) -> ModelCard:
    """Read and check `model.json`; its `id` must equal the folder name."""
    model_dir = Path(model_dir)
    path = model_dir / MANIFEST
    card = read_card(path, ModelCard)
    if card.id != model_dir.name:
        raise ArtifactError(f"{path}: field 'id' = {card.id!r} must equal the folder name {model_dir.name!r}")
    return card


def load_manifest(model_dir: Path | str) -> dict[str, Any]:
    """`model.json` checked as a card and returned as json (what `latentct models show` prints)."""
    return load_model_card(model_dir).to_json()


def _load_component(model_dir: Path, card: ModelCard, component: str) -> nn.Module:
    path = model_dir / weights_file(component)
    state = read_tensors(path, card.checksums.get(component))
    net = build_component(card.kind, component, card.arch)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first_line = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first_line[:3])
        raise ArtifactError(f"{path}: weights do not fit arch {card.arch}: {detail}") from None
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
    card = load_model_card(model_dir)
    if not (model_dir / weights_file("generator")).is_file():
        raise ArtifactError(f"{model_dir}: no generator ({weights_file('generator')} is missing)")
    loaded = LoadedModel(path=model_dir, card=card)
    for component in components:
        if component in COMPONENTS[card.kind] and (model_dir / weights_file(component)).is_file():
            loaded.components[component] = _load_component(model_dir, card, component).to(device)
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
) -> ModelCard:
    """Write weights (one safetensors file per component) then `model.json` last, each atomically.

    The folder name is the model id. Returns the card written.
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
    card = ModelCard(
        id=model_dir.name, kind=kind, arch=dict(arch), format_version=FORMAT_VERSION,
        latent_dim=int(getattr(generator, "latent_dim", arch.get("latent_dim", 0))),
        image_size=int(getattr(generator, "image_size", arch.get("image_size", 0))),
        hu_range=(float(hu_range[0]), float(hu_range[1])), description=description, intended_use=INTENDED_USE,
        data=data or {}, training=training or {}, metrics=metrics or {},
        provenance={"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(provenance or {})},
        checksums=checksums,
    )
    path = model_dir / MANIFEST
    write_card(path, ModelCard.from_json(card.to_json(), path))  # checked as a reader would check it
    return card


def update_manifest(model_dir: Path | str, updates: dict[str, Any]) -> ModelCard:
    """Merge `updates` into `model.json` (dicts merged one level deep) and rewrite it atomically."""
    load_model_card(model_dir)  # the folder and id checks
    return update_card(Path(model_dir) / MANIFEST, ModelCard, updates)


def list_model_dirs(models_dir: Path | str) -> list[Path]:
    """Every sub-folder of `models_dir` that holds a `model.json`, sorted by name (valid or not)."""
    root = Path(models_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file() and not p.name.startswith("."))
