"""Direction sets: `directions/<set_id>.safetensors` (float32 [K, latent_dim], unit rows) plus its json card."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentct import INTENDED_USE
from latentct.artifacts._io import read_json, read_tensors, write_json, write_tensors
from latentct.artifacts.cards import (
    DirectionSetCard,
    ModelCard,
    Scorecard,
    SetEvaluation,
    read_card,
    update_card,
    write_card,
)
from latentct.artifacts.models import load_model_card, validate_id
from latentct.core.errors import ArtifactError, InvalidInputError, NotFoundError

DIRECTIONS_DIR = "directions"
UNIT_TOLERANCE = 1e-3


@dataclass
class DirectionSet:
    """Unit-length latent directions, applied additively: z' = z + sum_k value_k * directions[k]."""

    id: str
    directions: torch.Tensor  # (K, latent_dim), float32, CPU
    card: DirectionSetCard
    checksum: str  # sha256 of the safetensors file

    @property
    def meta(self) -> dict[str, Any]:
        """The card as the json it was read from (for exports; read fields from `card`)."""
        return self.card.to_json()

    @property
    def count(self) -> int:
        return int(self.directions.shape[0])

    @property
    def method(self) -> str:
        return self.card.method


def _paths(model_dir: Path, set_id: str) -> tuple[Path, Path]:
    validate_id("direction set id", set_id)
    base = Path(model_dir) / DIRECTIONS_DIR
    return base / f"{set_id}.safetensors", base / f"{set_id}.json"


def _normalise(directions: torch.Tensor, latent_dim: int) -> torch.Tensor:
    if directions.dim() != 2 or directions.shape[1] != latent_dim or directions.shape[0] < 1:
        raise InvalidInputError(f"directions must have shape [K >= 1, {latent_dim}], got {list(directions.shape)}")
    directions = directions.detach().to("cpu", torch.float32)
    if not torch.isfinite(directions).all():
        raise InvalidInputError("directions contain non-finite values")
    norms = directions.norm(dim=1, keepdim=True)
    if (norms < 1e-8).any():
        raise InvalidInputError("directions contain a zero-length row; it has no direction")
    return (directions / norms).contiguous()


def save_direction_set(
    model_dir: Path | str,
    set_id: str,
    directions: torch.Tensor,
    *,
    method: str,
    params: dict[str, Any] | None = None,
    direction_metrics: list[dict[str, Any]] | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> DirectionSet:
    """Normalise the rows to unit length and write the set beside the model it was made for."""
    model_dir = Path(model_dir)
    model = load_model_card(model_dir)
    weights_path, json_path = _paths(model_dir, set_id)
    unit = _normalise(directions, model.latent_dim)
    if direction_metrics is not None and len(direction_metrics) != unit.shape[0]:
        raise InvalidInputError(f"direction_metrics has {len(direction_metrics)} entries for {unit.shape[0]} directions")
    checksum = write_tensors(weights_path, {"directions": unit})
    raw: dict[str, Any] = {
        "id": set_id, "model_id": model.id, "method": method, "count": int(unit.shape[0]),
        "latent_dim": int(unit.shape[1]), "params": params or {}, "metrics": metrics or {},
        "directions": [{"index": i, "metrics": m} for i, m in enumerate(direction_metrics or [{}] * unit.shape[0])],
        "generator_checksum": model.generator_checksum, "checksum": checksum, "intended_use": INTENDED_USE,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(extra or {}),
    }
    card = DirectionSetCard.from_json(raw, json_path)
    write_card(json_path, card)
    return DirectionSet(id=set_id, directions=unit, card=card, checksum=checksum)


def load_direction_set(model_dir: Path | str, set_id: str, model: ModelCard | None = None) -> DirectionSet:
    """Load and check a set: it must exist, match its checksum, have unit rows and belong to this generator."""
    model_dir = Path(model_dir)
    weights_path, json_path = _paths(model_dir, set_id)
    if not weights_path.is_file() or not json_path.is_file():
        raise NotFoundError(f"model {model_dir.name!r} has no direction set {set_id!r}")
    model = model or load_model_card(model_dir)
    card = read_card(json_path, DirectionSetCard)
    tensors = read_tensors(weights_path, card.checksum)
    if "directions" not in tensors:
        raise ArtifactError(f"{weights_path}: no tensor named 'directions'")
    directions = tensors["directions"].to(torch.float32)
    if directions.dim() != 2 or directions.shape[1] != model.latent_dim:
        raise ArtifactError(
            f"{weights_path}: 'directions' has shape {list(directions.shape)}, expected [K, {model.latent_dim}]"
        )
    if not torch.isfinite(directions).all():
        raise ArtifactError(f"{weights_path}: 'directions' contains non-finite values")
    worst = float((directions.norm(dim=1) - 1).abs().max())
    if worst > UNIT_TOLERANCE:
        raise ArtifactError(f"{weights_path}: rows must have unit length (off by up to {worst:.4f})")
    if card.generator_checksum != model.generator_checksum:
        raise ArtifactError(f"{json_path}: made for another generator (generator_checksum differs from model.json)")
    return DirectionSet(id=set_id, directions=directions, card=card, checksum=card.checksum)


def update_direction_set_meta(model_dir: Path | str, set_id: str, updates: dict[str, Any]) -> DirectionSetCard:
    """Merge `updates` into a set's json (dicts merged one level deep), e.g. to store its evaluation."""
    _, json_path = _paths(Path(model_dir), set_id)
    return update_card(json_path, DirectionSetCard, updates)


def list_direction_sets(model_dir: Path | str) -> list[str]:
    """Ids of the sets in a model folder (those with both files), sorted."""
    base = Path(model_dir) / DIRECTIONS_DIR
    if not base.is_dir():
        return []
    found = (p.stem for p in base.glob("*.safetensors") if not p.name.startswith("."))
    return sorted(stem for stem in found if (base / f"{stem}.json").is_file())


# ------------------------------------------------------------------------------------------------------------------
# Evaluations of a set (appended by the discovery area): `directions/<set_id>.eval.json` (numbers) and
# `directions/<set_id>.eval.png` (alignment heatmap). The PNG is written first and the json last, each atomically, so
# a json on disk always has its picture. The json records the set's checksum: an evaluation of an older version of a
# set is recognisable as such.

EVAL_SUFFIX = ".eval"


def evaluation_paths(model_dir: Path | str, set_id: str) -> tuple[Path, Path]:
    """(json, png) paths of a set's evaluation."""
    _, json_path = _paths(Path(model_dir), set_id)
    return json_path.with_name(f"{set_id}{EVAL_SUFFIX}.json"), json_path.with_name(f"{set_id}{EVAL_SUFFIX}.png")


def save_direction_set_evaluation(
    model_dir: Path | str, set_id: str, evaluation: dict[str, Any], heatmap_png: bytes
) -> tuple[Path, Path]:
    """Write a set's evaluation beside it; the set must exist."""
    weights_path, _ = _paths(Path(model_dir), set_id)
    if not weights_path.is_file():
        raise NotFoundError(f"model {Path(model_dir).name!r} has no direction set {set_id!r}")
    if not heatmap_png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise InvalidInputError("heatmap_png must be PNG bytes")
    # imported here: this block was appended to the file; the imports at the top belong to its owner
    from latentct.core.fsutil import atomic_write_bytes

    json_path, png_path = evaluation_paths(model_dir, set_id)
    atomic_write_bytes(png_path, heatmap_png)
    write_json(json_path, {**evaluation, "intended_use": INTENDED_USE})
    return json_path, png_path


def load_direction_set_evaluation(model_dir: Path | str, set_id: str) -> SetEvaluation:
    """A set's evaluation; NotFoundError when the set was never evaluated (`is_of` tells whether it is current)."""
    json_path, _ = evaluation_paths(model_dir, set_id)
    if not json_path.is_file():
        raise NotFoundError(
            f"direction set {set_id!r} of model {Path(model_dir).name!r} has no evaluation (run `latentct evaluate`)"
        )
    return SetEvaluation.from_json(read_json(json_path), json_path)


# ------------------------------------------------------------------------------------------------------------------
# The scorecard of a model's sets (discovery/scorecard.py): `scorecard.json`, `scorecard.md` and `scorecard.png` in
# the model folder, the picture and the table first, the json last.

SCORECARD_FILES = ("scorecard.json", "scorecard.md", "scorecard.png")


def save_scorecard(model_dir: Path | str, scorecard: Scorecard, markdown: str, png: bytes) -> Path:
    from latentct.core.fsutil import atomic_write_bytes, atomic_write_text

    model_dir = Path(model_dir)
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise InvalidInputError("the scorecard picture must be PNG bytes")
    json_name, md_name, png_name = SCORECARD_FILES
    atomic_write_bytes(model_dir / png_name, png)
    atomic_write_text(model_dir / md_name, markdown)
    write_card(model_dir / json_name, scorecard)
    return model_dir / json_name


def load_scorecard(model_dir: Path | str) -> Scorecard:
    """The model's scorecard; NotFoundError without one, ArtifactError (naming the field) for a broken one."""
    path = Path(model_dir) / SCORECARD_FILES[0]
    if not path.is_file():
        raise NotFoundError(f"model {Path(model_dir).name!r} has no scorecard (run `latentct scorecard`)")
    return Scorecard.from_json(read_json(path), path)
