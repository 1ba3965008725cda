"""Where an artifact came from: the commit of the checkout (and whether it had changes), the command and versions."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latentct.core import provenance as provenance_module
from latentct.core.provenance import git_commit, provenance


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=LatentCT tests", "-c", "user.email=tests@latentct.invalid", "-c", "commit.gpgsign=false",
         *args],
        cwd=repo, capture_output=True, text=True, timeout=60, check=True,
    )
    return done.stdout.strip()


@pytest.fixture()
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git repository with one commit, standing in for the source checkout."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("print('v1')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    monkeypatch.setattr(provenance_module, "REPO_ROOT", repo)
    return repo


def test_records_the_commit_and_a_clean_tree(checkout: Path) -> None:
    recorded = git_commit()
    assert recorded == {"commit": _git(checkout, "rev-parse", "HEAD"), "dirty": False}
    assert len(recorded["commit"]) == 40


def test_a_changed_tracked_file_is_dirty_an_untracked_one_is_not(checkout: Path) -> None:
    (checkout / "notes.txt").write_text("untracked")
    assert git_commit()["dirty"] is False
    (checkout / "train.py").write_text("print('v2')\n")
    head = _git(checkout, "rev-parse", "HEAD")
    assert git_commit() == {"commit": head, "dirty": True}
    _git(checkout, "commit", "-q", "-am", "second")
    recorded = git_commit()
    assert recorded["commit"] != head and recorded == {"commit": _git(checkout, "rev-parse", "HEAD"), "dirty": False}


def test_outside_a_checkout_both_are_null(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = tmp_path / "unpacked"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # git must not find a repository above tmp_path
    monkeypatch.setattr(provenance_module, "REPO_ROOT", plain)
    assert git_commit() == {"commit": None, "dirty": None}


def test_provenance_names_the_command_as_a_user_types_it(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/site-packages/latentct/cli.py", "discover", "--model", "my model"])
    card = provenance({"seed": 3})
    assert card["command"] == "latentct discover --model 'my model'"
    assert card["commit"] == _git(checkout, "rev-parse", "HEAD") and card["dirty"] is False
    assert card["torch"] == torch.__version__ and card["python"] == platform.python_version()
    assert card["host"] == platform.node() and card["seed"] == 3
    monkeypatch.setattr(sys, "argv", ["bench_train.py", "--fast"])
    assert provenance()["command"] == "bench_train.py --fast"
