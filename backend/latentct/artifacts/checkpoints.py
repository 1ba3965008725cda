"""Training checkpoints without pickle: every tensor (weights, optimiser moments, RNG states) in one safetensors file,
everything else (step counters, optimiser hyper-parameters, config) in JSON; the folder is replaced atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from latentct.artifacts._io import read_json, read_tensors, write_json, write_tensors
from latentct.core.errors import ArtifactError
from latentct.core.fsutil import atomic_directory

CHECKPOINT_DIR = "checkpoint"
STATE_JSON = "state.json"
STATE_TENSORS = "state.safetensors"
FORMAT_VERSION = 1


@dataclass
class TrainingState:
    """What a run needs to continue: net and optimiser state dicts, named extra tensors (RNG states) and JSON meta."""

    nets: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def _flatten_optimizer(name: str, state_dict: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Move the optimiser's tensors into `tensors` (keys optim.<name>.<param>.<slot>); return the JSON remainder."""
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, slots in state_dict["state"].items():
        for slot, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{name}.{param_id}.{slot}"] = value
            else:
                scalars.setdefault(str(param_id), {})[slot] = value
    return {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(name: str, record: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optim.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            param_id, slot = key[len(prefix) :].split(".", 1)
            state.setdefault(int(param_id), {})[slot] = value
    for param_id, slots in record.get("scalars", {}).items():
        state.setdefault(int(param_id), {}).update(slots)
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in record["param_groups"]]
    return {"state": state, "param_groups": groups}


def save_training_state(run_dir: Path | str, state: TrainingState) -> Path:
    """Write `run_dir/checkpoint/` (replacing the previous one only once the new one is complete)."""
    tensors: dict[str, torch.Tensor] = {}
    for net_name, net_state in state.nets.items():
        for key, value in net_state.items():
            tensors[f"net.{net_name}.{key}"] = value
    optimizers = {name: _flatten_optimizer(name, sd, tensors) for name, sd in state.optimizers.items()}
    for key, value in state.tensors.items():
        tensors[f"extra.{key}"] = value
    target = Path(run_dir) / CHECKPOINT_DIR
    with atomic_directory(target, overwrite=True) as tmp:
        checksum = write_tensors(tmp / STATE_TENSORS, tensors)
        record = {
            "format_version": FORMAT_VERSION,
            "nets": sorted(state.nets),
            "optimizers": optimizers,
            "meta": state.meta,
            "checksum": checksum,
        }
        write_json(tmp / STATE_JSON, record)
    return target


def has_training_state(run_dir: Path | str) -> bool:
    return (Path(run_dir) / CHECKPOINT_DIR / STATE_JSON).is_file()


def load_training_state(run_dir: Path | str) -> TrainingState:
    """Read `run_dir/checkpoint/`; a missing, corrupt or foreign checkpoint raises ArtifactError naming the file."""
    base = Path(run_dir) / CHECKPOINT_DIR
    record = read_json(base / STATE_JSON)
    if record.get("format_version") != FORMAT_VERSION or not isinstance(record.get("optimizers"), dict):
        version = record.get("format_version")
        raise ArtifactError(f"{base / STATE_JSON}: not a LatentCT training checkpoint (format_version {version!r})")
    flat = read_tensors(base / STATE_TENSORS, record.get("checksum"))
    nets: dict[str, dict[str, torch.Tensor]] = {name: {} for name in record.get("nets", [])}
    extra: dict[str, torch.Tensor] = {}
    for key, value in flat.items():
        kind, _, rest = key.partition(".")
        if kind == "net":
            net_name, _, param = rest.partition(".")
            if net_name not in nets:
                raise ArtifactError(f"{base / STATE_TENSORS}: tensor {key!r} belongs to no recorded net")
            nets[net_name][param] = value
        elif kind == "extra":
            extra[rest] = value
    try:
        optimizers = {name: _unflatten_optimizer(name, rec, flat) for name, rec in record["optimizers"].items()}
    except (KeyError, ValueError, TypeError) as exc:
        raise ArtifactError(f"{base / STATE_JSON}: optimiser state is malformed ({exc})") from None
    return TrainingState(nets=nets, optimizers=optimizers, tensors=extra, meta=dict(record.get("meta", {})))
