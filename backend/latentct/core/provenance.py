"""Where an artifact came from: the command, the source commit of this checkout and the software versions."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from latentct.core.config import REPO_ROOT


def git_commit() -> dict[str, Any]:
    """The source commit and whether the working tree had changes, or nulls outside a git checkout."""
    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def provenance(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Command line, source commit and software versions: what a card needs to say how it was made."""
    program = Path(sys.argv[0]).name
    if program in ("cli.py", "__main__.py", "latentct"):  # `python -m latentct.cli ...` is `latentct ...`
        program = "latentct"
    return {
        "command": " ".join(shlex.quote(arg) for arg in [program, *sys.argv[1:]]),
        **git_commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        **(extra or {}),
    }
