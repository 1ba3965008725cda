"""CLI: `latentct volume`: a synthetic volume along a slice-level direction, exported as NIfTI or DICOM (research only)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from latentct.core.errors import InvalidInputError

if TYPE_CHECKING:
    from latentct.artifacts.cards import Scorecard


def _consensus_terms(labels: Path | None, model_id: str, set_id: str) -> dict[int, str | None] | None:
    if labels is None:
        return None
    from latentct.discovery.export import label_consensus

    return {k: v.get("term") for k, v in label_consensus(labels, model_id, set_id).items()}


def _scorecard(model_dir: Path) -> Scorecard | None:
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


def _encoded_slice(model_dir: Path, from_slice: Path) -> tuple[Any, float]:
    """The latent of a slice file (DICOM, PNG or .npy, read as an upload is) and its reconstruction error in HU: the
    VAE's encoder, or the GAN's latent optimisation (slow on a CPU: a bar counts its steps)."""
    import asyncio

    import torch
    from tqdm import tqdm

    from latentct.rendering.engine import InferenceEngine
    from latentct.rendering.inversion import OPT_SLICE_STEPS, OPT_STEPS, encode_slice, prepare_slice
    from latentct.rendering.registry import load_served_model
    from latentct.rendering.uploads import read_upload_hu

    if not from_slice.is_file():
        raise InvalidInputError(f"--from-slice {str(from_slice)!r} is not a file (a .dcm, .png or .npy slice)")
    served = load_served_model(model_dir, torch.device("cpu"), half_precision="off")
    hu, input_format = read_upload_hu(from_slice.read_bytes(), from_slice.name, served.hu_range)
    image = prepare_slice(hu, served)
    optimising = served.encoder is None
    how = f"latent optimisation ({OPT_STEPS} steps)" if optimising else "its encoder"
    typer.echo(f"encoding {from_slice.name} ({input_format}) with {served.id} by {how}", err=True)
    slices_started = 0

    async def before_slice() -> bool:  # awaited before each slice of optimisation steps: counts them, never cancels
        nonlocal slices_started
        bar.update(min(slices_started * OPT_SLICE_STEPS, OPT_STEPS) - bar.n)
        slices_started += 1
        return False

    async def encode() -> Any:
        engine = InferenceEngine(torch.device("cpu")).start()
        try:
            return await encode_slice(engine, served, image, cancelled=before_slice)
        finally:
            await engine.close()

    with tqdm(total=OPT_STEPS, unit="step", desc="encode", disable=None if optimising else True) as bar:
        result = asyncio.run(encode())
        bar.update(bar.total - bar.n)
    return torch.tensor(result.latent, dtype=torch.float32), result.reconstruction_mae_hu


def volume_command(
    model: Annotated[Path, typer.Option("--model", help="Model folder, e.g. models/phantom-dcgan.")],
    set_id: Annotated[str, typer.Option("--set", help="Direction set id, e.g. supervised.")],
    out: Annotated[Path, typer.Option("--out", help="out.nii or out.nii.gz: NIfTI; anything else: a folder of DICOM files.")],
    direction: Annotated[
        int | None, typer.Option("--direction", help="Direction index (default: consensus 'slice_level', else the scorecard's).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the base latent (the API's latent for that seed; default 0).")
    ] = None,
    from_slice: Annotated[
        Path | None, typer.Option("--from-slice", help="Instead of --seed: a slice (.dcm, .png, .npy HU) encoded as the base.")
    ] = None,
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
    if seed is not None and from_slice is not None:
        raise InvalidInputError(f"--seed {seed} and --from-slice {str(from_slice)!r} both pick the base latent: give one")
    if out.exists() and not overwrite:
        raise InvalidInputError(f"output {str(out)!r} already exists (pass --overwrite)")
    loaded = load_model(model, components=("generator",))
    direction_set = load_direction_set(model, set_id)
    latent, note = None, None
    if from_slice is not None:
        latent, error_hu = _encoded_slice(model, from_slice)
        note = f"around an encoded slice (reconstruction error {error_hu:.1f} HU)"
    request = VolumeRequest(
        set_id=set_id, directions=direction_set.directions, seed=seed or 0, direction=direction, slices=slices, path=path,
        consensus=_consensus_terms(labels, loaded.id, set_id), scorecard=_scorecard(model), latent=latent, note=note,
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
    for note in volume.notes:
        typer.echo(f"note: {note}")
    for line in summary_lines(measure_volume(volume, vmodel, probe, baselines=baselines)):
        typer.echo(line)
    typer.echo("synthetic: research only, not for clinical use")


def register(app: typer.Typer) -> None:
    app.command("volume", help="A volume along a slice-level direction, as NIfTI or DICOM, with its 3-D measurements.")(
        volume_command
    )
