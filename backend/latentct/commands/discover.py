"""CLI: `latentct discover` (find directions), `latentct evaluate` (score them) and `latentct export traversals`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ModelOption = Annotated[Path, typer.Option("--model", help="Model folder, e.g. models/phantom-dcgan.")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu, cuda or cuda:N.")]
ThreadsOption = Annotated[int, typer.Option("--threads", help="torch CPU threads; 0 keeps torch's default.", min=0, max=256)]

# `latentct discover` options; most apply to one method only, as their help says.
MethodOption = Annotated[
    str, typer.Option("--method", help="voynov, sefa, ganspace, ica, jacobian, supervised (a reference), random or axes.")
]
DirectionModelOption = Annotated[
    str, typer.Option("--direction-model", help="Voynov only: unit, ortho (K = latent size) or linear.")
]
ReconstructorOption = Annotated[str, typer.Option("--reconstructor", help="Voynov only: lenet or resnet18.")]
CountOption = Annotated[
    int | None, typer.Option("-k", "--count", help="Number of directions K (default: the latent size; ica: half of it).")
]
VoynovStepsOption = Annotated[int, typer.Option("--steps", help="Voynov training steps (paper: 3000).", min=1)]
VoynovBatchSizeOption = Annotated[int, typer.Option("--batch-size", help="Voynov batch size (paper: 128).", min=1)]
LrOption = Annotated[float, typer.Option("--lr", help="Voynov Adam learning rate for both nets (paper: 1e-4).")]
DirectionLrOption = Annotated[
    float | None, typer.Option("--direction-lr", help="Voynov: learning rate of the directions only (default: --lr).")
]
SetIdOption = Annotated[
    str | None, typer.Option("--set-id", help="Name of the saved set (default: voynov-<direction model> or the method).")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random choice.")]
GanspaceBlockOption = Annotated[
    int, typer.Option("--ganspace-block", help="GANSpace and ICA: PCA after this generator block (0: of the image, "
                      "pooled to 32 px).")
]
GanspaceSamplesOption = Annotated[
    int | None,
    typer.Option("--ganspace-samples", help="GANSpace and ICA: prior samples (default: 2048 GANSpace, 8192 ICA).", min=16),
]
IcaRestartsOption = Annotated[
    int, typer.Option("--ica-restarts", help="ICA: FastICA starts; the most non-Gaussian result is kept.", min=1, max=1000)
]
IcaResamplesOption = Annotated[
    int, typer.Option("--ica-resamples", help="ICA: independent prior samples; the components that come back in "
                      "them are kept, most stable first (1: a single run).", min=1, max=100)
]
IcaContrastOption = Annotated[
    str, typer.Option("--ica-contrast", help="ICA: kurtosis (sub-Gaussian factors such as uniform pose) or logcosh.")
]
MaxMinutesOption = Annotated[
    float | None,
    typer.Option("--max-minutes", help="Voynov: stop training after this many minutes (steps done are recorded)."),
]
CheckpointOption = Annotated[
    Path | None,
    typer.Option("--checkpoint", help="Voynov: keep the training state in this folder (saved every 5 minutes of "
                 "training and when the run stops), so that --resume can continue it."),
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Voynov: continue the run whose state is in --checkpoint (e.g. a --max-minutes "
                       "piece of the paper's 3000 steps on a CPU); only --steps, --max-minutes may change.")
]
AmpOption = Annotated[bool, typer.Option("--amp/--no-amp", help="Voynov: bfloat16 autocast (CUDA, and CPUs with native bf16).")]
PresetOption = Annotated[
    str | None,
    typer.Option("--preset", help="Voynov: 'paper' (the paper's code: unit directions, K = 100, LeNet, 3000 x 128, "
                 "ranked best first) or 'original' (GANLatentDiscovery: ortho, ResNet-18, 1e5 x 32; use "
                 "--max-minutes on a CPU). Overrides those options."),
]
JacobianSamplesOption = Annotated[
    int, typer.Option("--jacobian-samples", help="Jacobian: prior samples the metric is averaged over.", min=1)
]
SupervisedSamplesOption = Annotated[
    int, typer.Option("--supervised-samples", help="Supervised: prior samples regressed.", min=64)
]
SupervisedProbeOption = Annotated[
    Path | None, typer.Option("--probe", help="Supervised: phantom probe folder (default: models/_phantom-probe).")
]


def _set_threads(threads: int) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def discover_command(
    model: ModelOption,
    method: MethodOption,
    direction_model: DirectionModelOption = "ortho",
    reconstructor: ReconstructorOption = "lenet",
    count: CountOption = None,
    steps: VoynovStepsOption = 3000,
    batch_size: VoynovBatchSizeOption = 128,
    lr: LrOption = 1e-4,
    direction_lr: DirectionLrOption = None,
    set_id: SetIdOption = None,
    seed: SeedOption = 0,
    ganspace_block: GanspaceBlockOption = 2,
    ganspace_samples: GanspaceSamplesOption = None,
    ica_restarts: IcaRestartsOption = 8,
    ica_resamples: IcaResamplesOption = 5,
    ica_contrast: IcaContrastOption = "kurtosis",
    max_minutes: MaxMinutesOption = None,
    checkpoint: CheckpointOption = None,
    resume: ResumeOption = False,
    amp: AmpOption = False,
    preset: PresetOption = None,
    jacobian_samples: JacobianSamplesOption = 256,
    supervised_samples: SupervisedSamplesOption = 4096,
    probe: SupervisedProbeOption = None,
    device: DeviceOption = "auto",
    threads: ThreadsOption = 0,
) -> None:
    """Discover latent directions of a model and save them as a direction set beside it."""
    _set_threads(threads)
    from latentct.discovery.discover import DiscoveryRequest, discover

    request = DiscoveryRequest(
        method=method,
        count=count,
        direction_model=direction_model,
        reconstructor=reconstructor,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        direction_lr=direction_lr,
        seed=seed,
        set_id=set_id,
        ganspace_block=ganspace_block,
        ganspace_samples=ganspace_samples,
        ica_restarts=ica_restarts,
        ica_resamples=ica_resamples,
        ica_contrast=ica_contrast,
        amp_bf16=amp,
        max_minutes=max_minutes,
        preset=preset,
        jacobian_samples=jacobian_samples,
        supervised_samples=supervised_samples,
        probe_dir=str(probe) if probe else None,
        checkpoint_dir=str(checkpoint) if checkpoint else None,
        resume=resume,
    )
    saved = discover(model, request, device=device)
    rca = saved.meta.get("metrics", {}).get("rca")
    extra = f", RCA {rca:.3f} (chance {1 / saved.count:.3f})" if rca is not None else ""
    typer.echo(f"saved direction set {saved.id!r} ({saved.method}, K={saved.count}{extra}) in {model / 'directions'}")
    trained = saved.card.trained_share()
    if trained is not None and trained < 1:
        steps_done, steps = saved.card.metrics["steps_done"], saved.card.params["steps"]
        how = (f"`--checkpoint {checkpoint} --resume` continues it" if checkpoint
               else "a run with --checkpoint DIR can be continued with --resume; this one cannot")
        typer.echo(f"note: --max-minutes stopped training after {steps_done} of {steps} steps ({100 * trained:.1f} %): "
                   f"the set is what that much training gave; {how}")


def evaluate_command(
    model: ModelOption,
    set_ids: Annotated[list[str], typer.Option("--set", help="Direction set id; repeat to score several against one baseline.")],
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds (latents) traversed per direction.")] = 32,
    extent: Annotated[float, typer.Option("--extent", help="Shifts run from -extent to +extent.")] = 6.0,
    steps: Annotated[int, typer.Option("--steps", help="Frames per traversal.")] = 9,
    realism_samples: Annotated[int, typer.Option("--realism-samples", help="Samples for the Frechet distances.")] = 256,
    random_sets: Annotated[
        int, typer.Option("--random-sets", help="Random orthonormal sets pooled for the random distribution (2..64).")
    ] = 4,
    probe: Annotated[Path | None, typer.Option("--probe", help="Phantom probe folder (default: models/_phantom-probe).")] = None,
    device: DeviceOption = "auto",
    threads: ThreadsOption = 0,
) -> None:
    """Score direction sets against the phantom factors and a random baseline; writes <set>.eval.json and .eval.png."""
    _set_threads(threads)
    from latentct.discovery.evaluate import EvaluationConfig, evaluate_sets, verdict_line

    config = EvaluationConfig(
        seeds=seeds, extent=extent, steps=steps, realism_samples=realism_samples, random_sets=random_sets
    ).check()
    results = evaluate_sets(model, set_ids, config, probe_dir=probe, device=device)
    for set_id, evaluation in results.items():
        comparison = evaluation["comparison"]
        scores = ", ".join(
            f"{name} {comparison[name]['set']:.3f} (random {comparison[name]['random_mean']:.3f}"
            f" +- {comparison[name]['random_sd']:.3f}, z {_z(comparison[name]['z'])})"
            for name in ("clean_effect_score", "disentanglement", "alignment_score")  # the headline is in the verdict
        )
        per_factor = evaluation["set"]["per_factor"]
        clean = [f"{name} (d{row['direction']})" for name, row in per_factor.items() if row["tracked_cleanly"]]
        typer.echo(f"{set_id}: {verdict_line(evaluation['verdict'])}; {scores}; tracked cleanly: {', '.join(clean) or 'none'}")


def scorecard_command(
    model: ModelOption,
    set_ids: Annotated[
        list[str] | None, typer.Option("--set", help="Direction set id; repeat. Default: every set of the model.")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds (latents) traversed per direction.")] = 16,
    extent: Annotated[float, typer.Option("--extent", help="Shifts run from -extent to +extent (prior sd).")] = 3.0,
    steps: Annotated[int, typer.Option("--steps", help="Frames per traversal.")] = 7,
    random_directions: Annotated[
        int, typer.Option("--random-directions", help="Random directions (whole orthonormal bases) for chance levels.")
    ] = 1024,
    probe: Annotated[Path | None, typer.Option("--probe", help="Phantom probe folder (default: models/_phantom-probe).")] = None,
    device: DeviceOption = "auto",
    threads: ThreadsOption = 0,
) -> None:
    """Which paper factors each set finds (far, cleanly, same sign for every seed, beyond chance); writes
    scorecard.json, scorecard.md and scorecard.png in the model folder and prints the table."""
    _set_threads(threads)
    from latentct.artifacts import list_direction_sets
    from latentct.discovery.scorecard import ScorecardConfig, build_scorecard, markdown_table

    chosen = set_ids or list_direction_sets(model)
    config = ScorecardConfig(seeds=seeds, extent=extent, steps=steps, random_directions=random_directions)
    card = build_scorecard(model, chosen, config, probe_dir=probe, device=device)
    typer.echo(markdown_table(card.to_json()), nl=False)


def _z(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def export_traversals_command(
    model: ModelOption,
    set_id: Annotated[str, typer.Option("--set", help="Direction set id.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (must not exist or be empty unless --overwrite).")],
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds side by side in every GIF.")] = 6,
    extent: Annotated[float, typer.Option("--extent", help="Shifts run from -extent to +extent.")] = 6.0,
    steps: Annotated[int, typer.Option("--steps", help="Frames per traversal.")] = 9,
    window: Annotated[str, typer.Option("--window", help="full, lung, mediastinum, bone or 'W,L' in HU.")] = "full",
    fps: Annotated[int, typer.Option("--fps", help="GIF frames per second.")] = 6,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="A labels JSON export; adds each direction's consensus term.")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")] = False,
    device: DeviceOption = "auto",
) -> None:
    """GIF per direction, contact sheet and markdown report of a direction set."""
    from latentct.discovery.export import ExportConfig, export_traversals

    config = ExportConfig(seeds=seeds, extent=extent, steps=steps, window=window, fps=fps)
    written = export_traversals(model, set_id, out, config, device=device, labels_file=labels, overwrite=overwrite)
    typer.echo(f"wrote {len(list(written.glob('*.gif')))} GIFs, contact_sheet.png and report.md to {written}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("discover")(discover_command)
    app.command("evaluate")(evaluate_command)
    app.command("scorecard")(scorecard_command)
    export_app = typer.Typer(help="Export results for people: traversal GIFs, contact sheets, reports.", no_args_is_help=True)
    export_app.command("traversals")(export_traversals_command)
    app.add_typer(export_app, name="export")
