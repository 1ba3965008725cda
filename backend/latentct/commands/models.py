"""CLI: `latentct models list|show|publish|import-legacy|evaluate-quality`: look at, ship and convert model folders."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from latentct.core.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from latentct.artifacts.cards import ModelCard

models_app = typer.Typer(help="List, show, publish and import model folders (model.json + safetensors).", no_args_is_help=True)

ModelsDirOpt = Annotated[
    Path | None, typer.Option("--models-dir", help="Folder of model folders (default: LATENTCT_MODELS_DIR or ./models).")
]
# What a served model needs; the discriminator and the training checkpoint stay in the run directory.
PUBLISHED_FILES = ("model.json", "generator.safetensors", "encoder.safetensors", "samples.png", "curves.png", "config.json",
                   "metrics.jsonl")


def _models_dir(models_dir: Path | None) -> Path:
    if models_dir is not None:
        return models_dir
    from latentct.core.config import Settings

    return Settings().models_dir


def _model_dir(model: str, models_dir: Path | None) -> Path:
    candidate = Path(model)
    if candidate.is_dir():
        return candidate
    from latentct.artifacts import validate_id

    validate_id("model id", model)
    found = _models_dir(models_dir) / model
    if not found.is_dir():
        raise NotFoundError(f"no model {model!r} in {str(_models_dir(models_dir))!r} (see `latentct models list`)")
    return found


def _summary(card: ModelCard) -> str:
    metrics = card.metrics
    arch = ", ".join(f"{k}={v}" for k, v in card.arch.items())
    fd = metrics.get("frechet_probe")
    factor = (metrics.get("factor_distance") or {}).get("mean") if isinstance(metrics.get("factor_distance"), dict) else None
    quality = f"FD(probe) {fd}" if fd is not None else "quality not measured"
    if factor is not None:
        quality += f", factor distance {factor}"
    return f"{card.id:24s} {card.kind:4s} {arch:50s} {quality}"


@models_app.command("list")
def list_command(models_dir: ModelsDirOpt = None) -> None:
    """List the model folders with kind, architecture and measured quality (invalid ones are named with the reason)."""
    from latentct.artifacts import list_model_dirs, load_model_card
    from latentct.core.errors import LatentCTError

    root = _models_dir(models_dir)
    folders = list_model_dirs(root)
    if not folders:
        typer.echo(f"no models in {root}")
        return
    for folder in folders:
        try:
            typer.echo(_summary(load_model_card(folder)))
        except LatentCTError as exc:
            typer.echo(f"{folder.name:24s} INVALID: {exc}")


@models_app.command("show")
def show_command(
    model: Annotated[str, typer.Argument(help="Model id (in --models-dir) or a model folder path.")],
    models_dir: ModelsDirOpt = None,
) -> None:
    """Print a model's card (model.json) and its direction sets."""
    from latentct.artifacts import list_direction_sets, load_manifest

    folder = _model_dir(model, models_dir)
    manifest = load_manifest(folder)
    typer.echo(json.dumps(manifest, indent=2))
    sets = list_direction_sets(folder)
    typer.echo(f"direction sets: {', '.join(sets) if sets else 'none'}")


@models_app.command("publish")
def publish_command(
    run: Annotated[Path, typer.Argument(help="A finished training run directory (it holds model.json).")],
    models_dir: ModelsDirOpt = None,
    include_discriminator: Annotated[
        bool, typer.Option("--include-discriminator", help="Also copy the GAN discriminator (not needed for serving).")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing model of the same id.")] = False,
) -> None:
    """Copy a run's serving files (card, generator, encoder, pictures, logs) into models/<id>; no checkpoint."""
    from latentct.artifacts import load_model

    loaded = load_model(run, components=("generator", "encoder", "discriminator"))  # checks files and checksums first
    root = _models_dir(models_dir)
    target = root / loaded.id
    if target.exists() and not overwrite:
        raise InvalidInputError(f"model {str(target)!r} already exists (pass --overwrite to replace it)")
    names = [*PUBLISHED_FILES, *(["discriminator.safetensors"] if include_discriminator else [])]
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{loaded.id}.", suffix=".partial", dir=root))
    try:
        for name in names:
            if (run / name).is_file():
                shutil.copy2(run / name, staging / name)
                os.chmod(staging / name, 0o644)  # shipped files are readable by the serving user, whoever it is
        os.chmod(staging, 0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size_mb = sum(p.stat().st_size for p in target.iterdir()) / 1e6
    typer.echo(f"published {loaded.id} to {target} ({size_mb:.1f} MB)")


@models_app.command("import-legacy")
def import_legacy_command(
    kind: Annotated[str, typer.Option("--kind", help="gan (a checkpoint with modelG_state_dict) or vae (decoder.pt).")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="The paper's torch checkpoint file.")],
    out: Annotated[Path, typer.Option("--out", help="New model folder, e.g. models/paper-dcgan (its name is the id).")],
    ndf: Annotated[
        int | None, typer.Option("--ndf", help="Discriminator width to record when the file has no discriminator.")
    ] = None,
) -> None:
    """Convert the paper's own checkpoints (loaded with torch.load(weights_only=True)) into a LatentCT model folder.

    The architecture (latent size, width, image size) is inferred from the weight shapes.
    """
    from latentct.artifacts.legacy import import_legacy

    card = import_legacy(kind, checkpoint, out, ndf=ndf)
    parts = ", ".join(sorted(card.checksums))
    typer.echo(f"imported {kind} {card.id} ({parts}; arch {card.arch}) to {out}")


@models_app.command("evaluate-quality")
def evaluate_quality_command(
    model: Annotated[str, typer.Option("--model", help="Model id (in --models-dir) or a model folder path.")],
    data: Annotated[Path, typer.Option("--data", help="Dataset to compare against (its test split).")],
    probe: Annotated[Path | None, typer.Option("--probe", help="Probe folder (default: models/_phantom-probe).")] = None,
    samples: Annotated[int, typer.Option("--samples", help="Generated and real slices to compare.")] = 1000,
    models_dir: ModelsDirOpt = None,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Store the result in the model's model.json.")] = True,
) -> None:
    """Measure a model's Frechet distance (probe features) and factor-distribution distance on a dataset."""
    from latentct.artifacts import load_model, update_manifest
    from latentct.artifacts.probe import load_probe
    from latentct.training.data import open_split
    from latentct.training.quality import evaluate_generator, subset

    if samples < 2:
        raise InvalidInputError(f"--samples must be >= 2, got {samples}")
    folder = _model_dir(model, models_dir)
    loaded = load_model(folder, components=("generator",))
    test, train = open_split(data, "test"), open_split(data, "train")
    the_probe = load_probe(probe)
    real_train = train.images(list(range(0, len(train), max(1, len(train) // samples)))[:samples])
    has_factors = test.factor_matrix(the_probe.factor_names) is not None
    metrics = evaluate_generator(loaded.generator, loaded.latent_dim, subset(test.all_images(), samples), the_probe, samples,
                                 real_train, has_factors)
    metrics["quality_data"] = str(data)
    typer.echo(json.dumps(metrics, indent=2))
    if write:
        update_manifest(folder, {"metrics": metrics})


@models_app.command("memorisation")
def memorisation_command(
    model: Annotated[str, typer.Option("--model", help="Model id (in --models-dir) or a model folder path.")],
    data: Annotated[Path, typer.Option("--data", help="The dataset the model was trained on (train and test split).")],
    probe: Annotated[Path | None, typer.Option("--probe", help="Probe folder (default: models/_phantom-probe).")] = None,
    samples: Annotated[int, typer.Option("--samples", help="Generated and held-out slices to compare.")] = 1000,
    models_dir: ModelsDirOpt = None,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Store the result in the model's model.json.")] = True,
) -> None:
    """Does the model copy its training slices? Nearest-training-slice distances of generated samples beside those
    of held-out real slices, in probe features and in pixels."""
    from latentct.artifacts import load_model, update_manifest
    from latentct.artifacts.probe import load_probe
    from latentct.training.data import open_split
    from latentct.training.quality import generate, memorisation, subset

    if not 2 <= samples <= 100_000:
        raise InvalidInputError(f"--samples must be in 2..100000, got {samples}")
    folder = _model_dir(model, models_dir)
    loaded = load_model(folder, components=("generator",))
    train, test = open_split(data, "train"), open_split(data, "test")
    result = memorisation(generate(loaded.generator, samples, loaded.latent_dim), subset(test.all_images(), samples), train,
                          load_probe(probe))
    result["data"] = str(data)
    typer.echo(json.dumps(result, indent=2))
    if write:
        update_manifest(folder, {"metrics": {"memorisation": result}})


def register(app: typer.Typer) -> None:
    """Add `latentct models ...` to the main app."""
    app.add_typer(models_app, name="models")
