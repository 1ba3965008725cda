"""Tiny models with a nearest-training-slice index, kept apart from tests/factories.py (whose models have no data).

A tiny model's card gets a `data` block of a tiny phantom (6 patients x 8 slices at 32 px, seed 0), the shipped
phantom probe is copied beside it, and the index is built by the real builder, as `latentct nearest build` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from latentct.artifacts.probe import PROBE_DIR_NAME, default_probe_dir, load_probe
from latentct.training.nearest import build_nearest_index
from tests.factories import make_tiny_model

TINY_DATA: dict[str, Any] = {"source": "phantom", "seed": 0, "patients": 6, "train_slices": 40, "test_slices": 8,
                             "image_size": 32}


def add_data_block(model_dir: Path, block: dict[str, Any] | None = None) -> Path:
    """Write a `data` block into the model card, as training does."""
    card_path = Path(model_dir) / "model.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["data"] = dict(block or TINY_DATA)
    card_path.write_text(json.dumps(card, indent=2), encoding="utf-8")
    return Path(model_dir)


def copy_probe(models_dir: Path) -> Path:
    """The shipped probe beside the models, where the server looks for it."""
    target = Path(models_dir) / PROBE_DIR_NAME
    if not target.exists():
        shutil.copytree(default_probe_dir(), target)
    return target


def make_indexed_model(models_dir: Path, model_id: str = "tiny-gan", kind: str = "gan", seed: int = 1) -> Path:
    """A tiny model (sets 'random'), its tiny phantom data block, the probe beside it, and its built index."""
    model_dir = add_data_block(make_tiny_model(models_dir, model_id, kind, seed=seed, sets=("random",)))
    probe = load_probe(copy_probe(models_dir))
    build_nearest_index(model_dir, probe, workers=1, progress=False)
    return model_dir
