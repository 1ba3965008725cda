"""CLI: `latentct train gan|vae|probe`: offline training of the generators and of the phantom probe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from latentct.artifacts.cards import ModelCard

train_app = typer.Typer(
    help="Train generative models (DCGAN, ResNet VAE) on a slice dataset, and the phantom probe that measures them.",
    no_args_is_help=True,
)

DataOpt = Annotated[Path, typer.Option("--data", help="Dataset directory (from `latentct data phantom` or `data import`).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory; at the end it is a model folder (its name is the model id).")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML file of training options; unknown keys are rejected. Flags override it.")
]
EpochsOpt = Annotated[int | None, typer.Option("--epochs", help="Epochs to train (paper: 50). On --resume, the new total.")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Images per step and process (paper: 128).")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto (CUDA when present), cpu, cuda or cuda:N.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed of initialisation, data order, noise and augmentation.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="torch CPU threads per process (0: torch's default).")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show tqdm progress bars.")]
CheckpointIntervalOpt = Annotated[
    float | None,
    typer.Option("--checkpoint-interval", help="Seconds between end-of-epoch checkpoints (default 120; 0: every epoch)."),
]

RecipeOpt = Annotated[
    str | None,
    typer.Option("--recipe", help="paper (the published recipe, default) or improved (the demo models': EMA generator, "
                 "spectral norm + hinge loss, augmentation of real and generated images; see docs/training.md)."),
]
MaxMinutesOpt = Annotated[
    float | None,
    typer.Option("--max-minutes", help="Time budget: stop after this many minutes of training, checkpoint and finish "
                 "(0: none). On --resume, the new total."),
]
PrecisionOpt = Annotated[
    str | None,
    typer.Option("--precision", help="auto (bf16 autocast on CUDA and on CPUs with native bf16, else fp32), fp32 or bf16."),
]
QualityEveryOpt = Annotated[
    int | None,
    typer.Option("--quality-every", help="Steps between quality records (Frechet distance, factor distances) in "
                 "metrics.jsonl and curves.png (0: only at the end; improved recipe: 500)."),
]

KeepBestOpt = Annotated[
    bool | None,
    typer.Option("--keep-best/--no-keep-best", help="GAN: keep the generator with the lowest tracked Frechet distance "
                 "in <out>/best/ and save it if it beats the end (needs --quality-every; improved recipe: on)."),
]


def _overrides(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@train_app.command("gan")
def train_gan_command(
    data: DataOpt,
    out: OutOpt,
    config: ConfigOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    ngf: Annotated[int | None, typer.Option("--ngf", help="Generator width (paper: 128; demo: 32).")] = None,
    ndf: Annotated[int | None, typer.Option("--ndf", help="Discriminator width (paper: 128; demo: 32).")] = None,
    threads: ThreadsOpt = None,
    checkpoint_interval: CheckpointIntervalOpt = None,
    recipe: RecipeOpt = None,
    max_minutes: MaxMinutesOpt = None,
    precision: PrecisionOpt = None,
    quality_every: QualityEveryOpt = None,
    keep_best: KeepBestOpt = None,
    resume: ResumeOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Train the paper's DCGAN (Adam 2e-4, betas 0.5/0.999, smoothed real labels, decaying instance noise), or with
    --recipe improved the demo models' recipe."""
    from latentct.training.run import run_training

    options = _overrides(epochs=epochs, batch_size=batch_size, device=device, seed=seed, ngf=ngf, ndf=ndf, threads=threads,
                         checkpoint_min_interval_s=checkpoint_interval, recipe=recipe, max_minutes=max_minutes,
                         precision=precision, quality_every_steps=quality_every, keep_best=keep_best)
    result = run_training("gan", data, out, config, options, resume=resume, progress=progress)
    _report(result.card)


@train_app.command("vae")
def train_vae_command(
    data: DataOpt,
    out: OutOpt,
    config: ConfigOpt = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    base_channels: Annotated[
        int | None, typer.Option("--base-channels", help="VAE width: first encoder block's channels (paper: 64; demo: 16).")
    ] = None,
    threads: ThreadsOpt = None,
    checkpoint_interval: CheckpointIntervalOpt = None,
    recipe: RecipeOpt = None,
    max_minutes: MaxMinutesOpt = None,
    precision: PrecisionOpt = None,
    quality_every: QualityEveryOpt = None,
    resume: ResumeOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Train the paper's ResNet VAE (Adam 1e-4, loss log(MSE) + 0.01 KL)."""
    from latentct.training.run import run_training

    options = _overrides(
        epochs=epochs, batch_size=batch_size, device=device, seed=seed, base_channels=base_channels, threads=threads,
        checkpoint_min_interval_s=checkpoint_interval, recipe=recipe, max_minutes=max_minutes, precision=precision,
        quality_every_steps=quality_every,
    )
    result = run_training("vae", data, out, config, options, resume=resume, progress=progress)
    _report(result.card)


@train_app.command("probe")
def train_probe_command(
    out: Annotated[Path, typer.Option("--out", help="Probe folder (shipped one: models/_phantom-probe).")],
    data: Annotated[
        Path | None, typer.Option("--data", help="A phantom dataset to train on; default: render --samples fresh slices.")
    ] = None,
    samples: Annotated[int, typer.Option("--samples", help="Slices to render when no --data is given.")] = 6000,
    size: Annotated[int, typer.Option("--size", help="Image size in px of the rendered slices.")] = 128,
    data_seed: Annotated[int, typer.Option("--data-seed", help="Seed of the rendered phantom (not the models' data).")] = 1234,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs.")] = 12,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per step.")] = 64,
    width: Annotated[int, typer.Option("--width", help="Channels of the first conv block.")] = 16,
    seed: Annotated[int, typer.Option("--seed", help="Seed of initialisation and data order.")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[int, typer.Option("--threads", help="torch CPU threads (0: torch's default).")] = 0,
    progress: ProgressOpt = True,
) -> None:
    """Train the phantom probe: a factor regressor whose features define LatentCT's Frechet distance."""
    from latentct.training.probe import ProbeConfig, train_probe

    config = ProbeConfig(epochs=epochs, batch_size=batch_size, width=width, seed=seed, device=device, threads=threads)
    card = train_probe(out, config, data_dir=data, samples=samples, image_size=size, data_seed=data_seed, progress=progress)
    metrics = card["metrics"]
    typer.echo(f"probe saved to {out}: held-out R^2 mean {_number(metrics['test_r2_mean'])} on {metrics['n_test']} test slices")
    for name, value in metrics["test_r2"].items():
        typer.echo(f"  {name:14s} R^2 {_number(value):>6s}   MAE {metrics['test_mae'][name]}")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"  # n/a: the factor is constant on the test split


def _report(card: ModelCard | None) -> None:
    if card is None:  # a non-zero rank under torchrun: rank 0 reports
        return
    metrics = card.metrics
    shown = ", ".join(f"{k}={v}" for k, v in metrics.items() if not isinstance(v, dict))
    factor = metrics.get("factor_distance", {}).get("mean") if isinstance(metrics.get("factor_distance"), dict) else None
    typer.echo(f"model {card.id} saved: {shown}" + (f", factor_distance_mean={factor}" if factor is not None else ""))


def register(app: typer.Typer) -> None:
    """Add `latentct train ...` to the main app."""
    app.add_typer(train_app, name="train")
