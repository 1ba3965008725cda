"""Crash-safe writing on real files: a write either lands whole or leaves the old content and no temporary behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from latentct.artifacts._io import write_tensors
from latentct.core.errors import InvalidInputError
from latentct.core.fsutil import (
    atomic_directory,
    atomic_path,
    atomic_save,
    atomic_write_bytes,
    atomic_write_text,
    ensure_writable_dir,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_creates_parents_replaces_and_leaves_only_the_target(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "card.json"
    assert atomic_write_text(target, "{}\n") == target
    assert target.read_text() == "{}\n"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _names(target.parent) == ["card.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # readable by a server running as another user


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    target = tmp_path / "weights.bin"
    target.write_bytes(b"old weights")

    def half_then_crash(tmp: Path) -> None:
        tmp.write_bytes(b"new wei")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_save(target, half_then_crash, suffix=".bin")
    assert target.read_bytes() == b"old weights"
    assert _names(tmp_path) == ["weights.bin"]
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "new.bin") as tmp:  # interrupted, not only errors
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert _names(tmp_path) == ["weights.bin"]


def test_the_temporary_sits_beside_the_target_until_the_write_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "index.npy"
    with atomic_path(target, suffix=".npy") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".index.npy.") and tmp.suffix == ".npy"
        tmp.write_bytes(b"data")
        assert not target.exists()  # a reader sees no half-written target
    assert target.read_bytes() == b"data" and not tmp.exists()
    saved = atomic_save(tmp_path / "out.txt", lambda path: path.write_text("written by a library"))
    assert saved.read_text() == "written by a library"


def test_atomic_directory_builds_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with atomic_directory(target) as build:
        (build / "model.json").write_text("{}")
        assert not target.exists()
    assert _names(target) == ["model.json"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # not mkdtemp's 0700: others may read a dataset or export
    with pytest.raises(InvalidInputError, match="already exists and is not empty"), atomic_directory(target):
        pytest.fail("the body must not run for an existing, non-empty target")
    with pytest.raises(RuntimeError), atomic_directory(target, overwrite=True) as build:
        (build / "generator.safetensors").write_bytes(b"half")
        raise RuntimeError("killed")
    assert _names(target) == ["model.json"] and _names(tmp_path) == ["model"]  # old folder untouched, no .partial left
    with atomic_directory(target, overwrite=True) as build:
        (build / "model.json").write_text('{"v": 2}')
    assert (target / "model.json").read_text() == '{"v": 2}' and _names(tmp_path) == ["model"]  # no .old left
    (tmp_path / "empty").mkdir()
    with atomic_directory(tmp_path / "empty") as build:  # an empty folder is no data to protect
        (build / "x").write_text("x")
    assert _names(tmp_path / "empty") == ["x"]


def test_ensure_writable_dir_names_a_path_it_cannot_create(tmp_path: Path) -> None:
    assert ensure_writable_dir(tmp_path / "new" / "deep") == tmp_path / "new" / "deep"
    assert (tmp_path / "new" / "deep").is_dir()
    (tmp_path / "afile").write_text("a file, not a folder")
    with pytest.raises(InvalidInputError, match="cannot create output directory") as refused:
        ensure_writable_dir(tmp_path / "afile" / "sub")
    assert str(tmp_path / "afile" / "sub") in str(refused.value)
    with pytest.raises(InvalidInputError, match="cannot create output directory"):
        atomic_write_text(tmp_path / "afile" / "sub" / "x.txt", "x")
    assert _names(tmp_path) == ["afile", "new"]


def test_written_results_are_readable_by_others_even_when_the_writer_makes_them_private(tmp_path: Path) -> None:
    """safetensors' save_file leaves 0600 whatever the file had: a models dir published by one user and served by
    another (a container's user) could not read its own weights."""
    weights = tmp_path / "generator.safetensors"
    write_tensors(weights, {"w": torch.zeros(3)})
    assert stat.S_IMODE(weights.stat().st_mode) == 0o644
    private = tmp_path / "private.bin"
    atomic_save(private, lambda tmp: (tmp.write_bytes(b"x"), os.chmod(tmp, 0o600)))
    assert stat.S_IMODE(private.stat().st_mode) == 0o644
