"""Low-level helpers: checksums, JSON and safetensors files written atomically and read with clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentct.core.errors import ArtifactError
from latentct.core.fsutil import atomic_save, atomic_write_text


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> str:
    """Save contiguous CPU copies as safetensors (atomically); return the file's sha256."""
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    atomic_save(path, lambda tmp: save_file(cpu, str(tmp)), suffix=".safetensors")
    return sha256_file(path)


def read_tensors(path: Path, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a safetensors file to CPU, checking its checksum first when one is recorded."""
    if not path.is_file():
        raise ArtifactError(f"{path}: file not found")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise ArtifactError(
                f"{path}: checksum mismatch (recorded {expected_sha256[:12]}, file {actual[:12]}): corrupt or replaced"
            )
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ArtifactError(f"{path}: not a readable safetensors file ({exc})") from None
