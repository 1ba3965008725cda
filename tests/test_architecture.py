"""The rules of the house that a reader of imports can check: layers import one way, `core` imports nothing of ours.

    cli -> commands -> api -> {training, discovery, rendering, labels} -> artifacts -> nets -> data -> core

A layer may skip layers below it, never import sideways or upwards; `api` never imports `training`. Every import
counts, also those inside functions (a lazy import is still a dependency). docs/architecture.md draws the same chain.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "backend" / "latentct"
TESTS = Path(__file__).resolve().parent
LAYERS = {
    "core": 0,
    "data": 1,
    "nets": 2,
    "artifacts": 3,
    "training": 4,
    "discovery": 4,
    "rendering": 4,
    "labels": 4,
    "api": 5,
    "commands": 6,
    "cli": 7,  # the `latentct` entry point, above the commands it registers
    "healthcheck": 6,  # `python -m latentct.healthcheck`, the container's probe
}
FORBIDDEN = {("api", "training")}  # serving must never pull in the training stack


def room_of(module: str) -> str | None:
    """'latentct.rendering.engine' -> 'rendering'; the package root (version, intended use) is no room."""
    parts = module.split(".")
    if parts[0] != "latentct" or len(parts) < 2:
        return None
    return parts[1]


def imports_of(path: Path) -> Iterator[tuple[str, int]]:
    """Every module of ours that `path` imports, with the line, at any depth of the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.relative_to(PACKAGE).parts)


def violations() -> list[str]:
    found = []
    for path in source_files():
        relative = path.relative_to(PACKAGE)
        source = relative.parts[0].removesuffix(".py")
        if source == "__init__":
            continue
        for module, line in imports_of(path):
            target = room_of(module)
            if target is None or target == source:
                continue
            where = f"{relative}:{line} imports {module}"
            if source not in LAYERS or target not in LAYERS:
                found.append(f"{where} ({source if source not in LAYERS else target} is in no layer)")
            elif LAYERS[target] >= LAYERS[source] or (source, target) in FORBIDDEN:
                found.append(f"{where} ({source} may not import {target})")
    return found


def test_every_package_and_top_level_module_has_a_layer() -> None:
    rooms = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if (p.suffix == ".py" or p.is_dir()) and
             not p.name.startswith(("_", "."))}
    assert rooms <= set(LAYERS), f"not in a layer: {sorted(rooms - set(LAYERS))}"


def test_imports_run_one_way_down_the_layers() -> None:
    assert violations() == []


def test_core_imports_nothing_of_ours_but_core() -> None:
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        ours = [module for module, _ in imports_of(path) if room_of(module) not in (None, "core")]
        assert ours == [], f"{path.relative_to(PACKAGE)} imports {ours}"


def test_the_checker_sees_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule is not vacuous: a data module importing the api is reported, a lazy one inside a function too."""
    fake = tmp_path / "latentct"
    (fake / "data").mkdir(parents=True)
    (fake / "data" / "bad.py").write_text("def f():\n    from latentct.api import app\n    return app\n")
    (fake / "core").mkdir()
    (fake / "core" / "ok.py").write_text("import torch\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    assert violations() == ["data/bad.py:2 imports latentct.api (data may not import api)"]


def test_tests_mirror_the_package_and_every_folder_is_a_package() -> None:
    """tests/<area> for every package of latentct (core and commands included), and an __init__.py in every folder
    (two test files of one name in two folders are then two modules, not a collection error)."""
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert sorted(packages - {p.name for p in TESTS.iterdir() if p.is_dir()}) == []
    folders = [p for p in TESTS.rglob("*") if p.is_dir() and
               not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(TESTS).parts)]
    assert [str(p.relative_to(TESTS)) for p in folders if not (p / "__init__.py").is_file()] == []
