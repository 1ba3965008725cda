"""CLI: `latentct nearest build`: a model's nearest-training-slice index, so that the app can show whether a generated
image is new or a copy of a training slice."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from latentct.core.errors import InvalidInputError

nearest_app = typer.Typer(help="Nearest training slice of generated images: build a model's index.", no_args_is_help=True)


def _check_dir(what: str, path: Path, marker: str) -> None:
    if not (path / marker).is_file():
        raise InvalidInputError(f"{what} {str(path)!r} is not a folder with {marker}")


@nearest_app.command("build")
def build(
    model: Annotated[Path, typer.Option("--model", help="Model folder, e.g. models/phantom-vae.")],
    probe_dir: Annotated[Path | None, typer.Option("--probe", help="Phantom probe folder (default: the shipped one).")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset folder to index (default: regenerate the card's phantom data).")
    ] = None,
    dims: Annotated[int, typer.Option("--dims", help="PCA dimensions of the index, 1..128.")] = 32,
    workers: Annotated[int, typer.Option("--workers", help="Processes rendering the phantom (0: one per core).")] = 0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
) -> None:
    """Embed every training slice with the probe and write <model>/nearest.safetensors (research only)."""
    from latentct.artifacts.probe import load_probe
    from latentct.training.nearest import build_nearest_index

    _check_dir("--model", model, "model.json")
    if data is not None:
        _check_dir("--data", data, "dataset.json")
    if not 1 <= dims <= 128:
        raise InvalidInputError(f"--dims {dims} must be within 1..128")
    if not 0 <= workers <= 256:
        raise InvalidInputError(f"--workers {workers} must be within 0..256")
    probe = load_probe(probe_dir)
    index = build_nearest_index(model, probe, data_dir=data, dims=dims, workers=workers or None, progress=progress)
    header = index.header
    size = (model / "nearest.safetensors").stat().st_size
    typer.echo(
        f"wrote {model / 'nearest.safetensors'}: {header['rows']} training slices x {header['feature_space']['dims']} dims "
        f"({size / 2**20:.2f} MiB), {header['held_out']} held-out distances, recall@1 {header['recall']['recall_at_1']:.3f} "
        f"on {header['recall']['queries']} held-out slices, built in {header['build_seconds']:.0f} s"
    )


def register(app: typer.Typer) -> None:
    """Add the `nearest` sub-app to the main app."""
    app.add_typer(nearest_app, name="nearest")
