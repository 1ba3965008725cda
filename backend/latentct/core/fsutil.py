"""Crash-safe file writing: everything LatentCT writes goes to a temporary path first, then is renamed."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from latentct.core.errors import InvalidInputError


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` (and parents) or raise InvalidInputError naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"cannot create output directory {str(path)!r}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise InvalidInputError(f"output directory {str(path)!r} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(target: Path | str, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it over `target`, on error delete it."""
    target = Path(target)
    ensure_writable_dir(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes 0600 and so does safetensors' save_file, whatever the file had: results are meant to be read
        # by others (a models dir published by one user and served by another), so the mode is set after writing
        os.chmod(tmp, 0o644)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: Path | str, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: Path | str, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_save(target: Path | str, writer: Callable[[Path], None], suffix: str = "") -> Path:
    """Call `writer(tmp_path)` and move the result into place only if it returns."""
    with atomic_path(target, suffix=suffix) as tmp:
        writer(tmp)
    return Path(target)


@contextlib.contextmanager
def atomic_directory(target: Path | str, overwrite: bool = False) -> Iterator[Path]:
    """Build a whole directory under a temporary name, then rename it to `target`.

    If `target` exists and `overwrite` is false, InvalidInputError is raised before anything is written.
    On error the temporary directory is removed and an existing `target` is left untouched.
    """
    target = Path(target)
    if target.exists() and not overwrite and (not target.is_dir() or any(target.iterdir())):
        raise InvalidInputError(f"output {str(target)!r} already exists and is not empty (pass --overwrite)")
    ensure_writable_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700: a dataset, export or checkpoint folder is meant to be read by others
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
