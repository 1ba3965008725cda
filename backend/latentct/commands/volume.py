"""CLI: `latentct volume`: a synthetic volume along a slice-level direction, exported as NIfTI or DICOM (research only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from latentct.core.errors import InvalidInputError


def _consensus_terms(labels: Path | None, model_id: str, set_id: str) -> dict[int, str | None] | None:
    if labels is None:
        return None
    from latentct.discovery.export import label_consensus

    return {k: v.get("term") for k, v in label_consensus(labels, model_id, set_id).items()}


def _scorecard(model_dir: Path) -> dict[str, Any] | None:
    from latentct.artifacts.directions import load_scorecard
    from latentct.core.errors import NotFoundError

    try:
        return load_scorecard(model_dir)
    except NotFoundError:
        return None


def _probe(probe_dir: Path | None, no_probe: bool) -> Any:
    from latentct.artifacts.probe import default_probe_dir, load_probe

    if no_probe:
        return None
    where = probe_dir or default_probe_dir()
    if probe_dir is None and not (where / "probe.json").is_file():
        typer.echo(f"note: no probe at {where}: shifts fixed at +-6, no level measurements", err=True)
        return None
    return load_probe(where)


def volume_command(
    model: Annotated[Path, typer.Option("--model", help="Model folder, e.g. models/phantom-dcgan.")],
    set_id: Annotated[str, typer.Option("--set", help="Direction set id, e.g. supervised.")],
    out: Annotated[Path, typer.Option("--out", help="out.nii or out.nii.gz: NIfTI; anything else: a folder of DICOM files.")],
    direction: Annotated[
        int | None, typer.Option("--direction", help="Direction index (default: consensus 'slice_level', else the scorecard's).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the base latent (the API's latent for that seed).")] = 0,
    slices: Annotated[int, typer.Option("--slices", help="Number of slices, 2..256.")] = 64,
    path: Annotated[str, typer.Option("--path", help="straight, or locked (the other factors' estimates held).")] = "straight",
    labels: Annotated[
        Path | None, typer.Option("--labels", help="A `latentct labels export --format json` file; its consensus picks.")
    ] = None,
    probe_dir: Annotated[Path | None, typer.Option("--probe", help="Phantom probe folder (default: the shipped one).")] = None,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Skip the probe: shifts +-6, no level measurements.")] = False,
    baselines: Annotated[
        bool, typer.Option("--baselines/--no-baselines", help="Measure a real phantom volume and interpolation too.")
    ] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")] = False,
) -> None:
    """Render a volume from a 2-D model along a slice-level direction, export it and print how 3-D it is.
    Synthetic images: research only, not for clinical use."""
    from tqdm import tqdm

    from latentct.artifacts import load_direction_set, load_model
    from latentct.rendering.volume_export import export_volume
    from latentct.rendering.volume_metrics import measure_volume, summary_lines
    from latentct.rendering.volumes import VolumeModel, VolumeRequest, build_volume, check_path, check_slices

    check_slices(slices), check_path(path)
    if out.exists() and not overwrite:
        raise InvalidInputError(f"output {str(out)!r} already exists (pass --overwrite)")
    loaded = load_model(model, components=("generator",))
    direction_set = load_direction_set(model, set_id)
    request = VolumeRequest(
        set_id=set_id, directions=direction_set.directions, seed=seed, direction=direction, slices=slices, path=path,
        consensus=_consensus_terms(labels, loaded.id, set_id), scorecard=_scorecard(model),
    )
    probe = _probe(probe_dir, no_probe)
    vmodel = VolumeModel.of_loaded(loaded)
    with tqdm(total=100, unit="%", desc=f"volume ({path})", disable=None) as bar:
        def progress(fraction: float) -> None:
            bar.update(max(0, round(100 * fraction) - bar.n))

        volume = build_volume(vmodel, request, probe, progress)
    export_volume(volume, out, overwrite=overwrite)
    typer.echo(
        f"{volume.count} slices of {loaded.id} along direction {volume.direction} of {set_id} ({volume.direction_source}), "
        f"{path} path, shifts {volume.shifts[0]:+.2f}..{volume.shifts[-1]:+.2f}, spacing {volume.slice_spacing_mm:.2f} mm "
        f"x {volume.pixel_spacing_mm:.2f} mm -> {out}"
    )
    for line in summary_lines(measure_volume(volume, vmodel, probe, baselines=baselines)):
        typer.echo(line)
    typer.echo("synthetic: research only, not for clinical use")


def register(app: typer.Typer) -> None:
    app.command("volume", help="A volume along a slice-level direction, as NIfTI or DICOM, with its 3-D measurements.")(
        volume_command
    )
