"""Where an artifact came from: the source commit of this checkout (base layer: imports nothing of ours but config)."""

from __future__ import annotations

import subprocess
from typing import Any

from latentct.config import REPO_ROOT


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
