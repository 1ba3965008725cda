"""A training run from start to model folder: check inputs, (resume,) loop over epochs with logs, samples and
checkpoints, then measure quality and save the model. Single process or one process per rank under torchrun.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from latentct.artifacts import ModelCard, save_model, validate_id
from latentct.artifacts._io import read_json, write_json
from latentct.artifacts.checkpoints import TrainingState, has_training_state, load_training_state, save_training_state
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.core.fsutil import atomic_write_text, ensure_writable_dir
from latentct.core.provenance import provenance
from latentct.training import best, quality
from latentct.training.augment import random_affine
from latentct.training.config import CommonConfig, GANConfig, VAEConfig, arch_of, build_config, config_from_record
from latentct.training.data import TrainingData, batches_per_epoch, check_batch_size, epoch_batches, open_split
from latentct.training.gan import GANTrainer
from latentct.training.images import read_metrics, save_curves_png, save_grid_png
from latentct.training.runtime import Runtime, start_runtime, stop_runtime, torch_threads
from latentct.training.vae import VAETrainer

CONFIG_JSON = "config.json"
METRICS_JSONL = "metrics.jsonl"
SAMPLES_DIR = "samples"
# Options that may change when a run is resumed; anything else must match what the run was started with.
RESUMABLE_OPTIONS = {"epochs", "device", "threads", "log_every_steps", "checkpoint_every_steps", "checkpoint_min_interval_s",
                     "quality_samples", "probe_dir", "max_minutes", "quality_every_steps", "quality_track_samples",
                     "precision", "keep_best"}


class Trainer(Protocol):
    kind: str
    curve_keys: tuple[str, ...]
    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]

    @property
    def generator(self) -> nn.Module: ...

    def train_mode(self) -> None: ...

    def step(self, real: torch.Tensor, rng: torch.Generator, progress_epochs: float) -> dict[str, torch.Tensor]: ...

    def card_extras(self) -> dict[str, Any]: ...


def use_channels_last(kind: str, option: str, device: torch.device, amp: bool = False) -> bool:
    """The `channels_last` option resolved: "auto" is on for CUDA, for the VAE on CPUs, and for the GAN on CPUs in
    bfloat16 (bench/bench_training.py: faster in each of these; the DCGAN in float32 on one CPU thread is not)."""
    if option != "auto":
        return option == "on"
    return device.type == "cuda" or kind == "vae" or amp


def make_augment(config: CommonConfig) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """The run's random augmentation of a batch (None when switched off)."""
    if not config.augment:
        return None
    scale_range = (config.aug_scale_min, config.aug_scale_max)
    return lambda images, rng: random_affine(images, rng, config.aug_rotation_deg, scale_range, config.aug_translate_px)


def model_nets(trainer: Trainer) -> dict[str, nn.Module]:
    """The nets the model folder gets (a GAN with a weight average saves the average as its generator)."""
    return dict(getattr(trainer, "model_nets", trainer.nets))


def make_trainer(kind: str, config: CommonConfig, arch: dict[str, Any], runtime: Runtime) -> Trainer:
    if kind == "gan":
        assert isinstance(config, GANConfig)
        return GANTrainer(config, arch, runtime, make_augment(config))
    assert isinstance(config, VAEConfig)
    return VAETrainer(config, arch, runtime)


@dataclass
class TrainResult:
    """What a run returns: the card written (rank 0 only) and this process's nets (for tests and callers)."""

    card: ModelCard | None
    nets: dict[str, nn.Module] = field(default_factory=dict)
    steps: int = 0


@dataclass
class Position:
    """Where the loop stands: `epoch` and `batch` are the next ones to run; `step` counts optimiser steps done."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    elapsed_s: float = 0.0
    stopped_by: str = "epochs"  # or "max_minutes": the time budget ended the run


# ---------------------------------------------------------------------------------------------------------------
# 1. Inputs


def _data_record(train: TrainingData, test: TrainingData) -> dict[str, Any]:
    meta = train.meta
    detail = meta.get("source_detail") or {}
    return {
        "path": str(train.path),  # as given (relative paths stay relative, so a card does not name this machine)
        "source": meta.get("source"),
        "seed": meta.get("seed", detail.get("seed")),
        "image_size": train.image_size,
        "train_slices": len(train),
        "test_slices": len(test),
        "patients": (meta.get("counts") or {}).get("patients"),
    }


def _prepare_config(
    kind: str, out: Path, config_file: Path | None, overrides: dict[str, Any], resume: bool
) -> tuple[CommonConfig, dict[str, Any] | None]:
    """New run: defaults < TOML < flags, into an empty --out. Resume: the run's config.json with the few flags that may change."""
    if not resume:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise InvalidInputError(
                f"output {str(out)!r} already exists and is not empty: pass --resume to continue it, or choose another --out"
            )
        return build_config(kind, config_file, overrides), None
    if not has_training_state(out):
        missing = out / "checkpoint" / "state.json"
        raise InvalidInputError(f"cannot resume: {str(out)!r} holds no training checkpoint ({missing} is missing)")
    if config_file is not None:
        raise InvalidInputError("--config cannot be combined with --resume: a resumed run keeps the config it started with")
    record = read_json(out / CONFIG_JSON)
    if record.get("kind") != kind:
        raise InvalidInputError(f"cannot resume: {str(out)!r} is a {record.get('kind')!r} run, not a {kind!r} run")
    config = config_from_record(kind, record.get("config", {}), str(out / CONFIG_JSON))
    for key, value in overrides.items():
        if key not in RESUMABLE_OPTIONS and getattr(config, key, value) != value:
            raise InvalidInputError(
                f"cannot resume with {key}={value!r}: the run was started with {key}={getattr(config, key)!r} "
                f"(only {', '.join(sorted(RESUMABLE_OPTIONS))} may change)"
            )
    merged = dataclasses.replace(config, **{k: v for k, v in overrides.items() if k in RESUMABLE_OPTIONS})
    return build_config(kind, None, dataclasses.asdict(merged)), record


def _restore(trainer: Trainer, state: TrainingState, out: Path) -> Position:
    """Load nets and optimisers from a checkpoint; anything that does not fit is one clear ArtifactError."""
    where = out / "checkpoint"
    if state.meta.get("kind") != trainer.kind:
        raise ArtifactError(f"{where}: checkpoint of a {state.meta.get('kind')!r} run cannot resume a {trainer.kind!r} run")
    missing = set(trainer.nets) - set(state.nets)
    if missing:
        raise ArtifactError(f"{where}: checkpoint lacks the net(s) {sorted(missing)}")
    for name, net in trainer.nets.items():
        try:
            net.load_state_dict(state.nets[name], strict=True)
        except RuntimeError as exc:
            detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:2])
            raise ArtifactError(f"{where}: {name} weights do not fit this configuration: {detail}") from None
    for name, optimizer in trainer.optimizers.items():
        if name not in state.optimizers:
            raise ArtifactError(f"{where}: checkpoint lacks the optimiser state {name!r}")
        try:
            optimizer.load_state_dict(state.optimizers[name])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise ArtifactError(f"{where}: optimiser {name!r} state does not fit: {exc}") from None
    m = state.meta
    if hasattr(trainer, "steps_done"):
        trainer.steps_done = int(m["step"])  # the weight average's warm-up counts from the run's first step
    return Position(int(m["epoch"]), int(m["batch"]), int(m["step"]), float(m.get("elapsed_s", 0.0)))


# ---------------------------------------------------------------------------------------------------------------
# 2. Loop bookkeeping


def _epoch_rng(seed: int, rank: int, epoch: int, device: torch.device) -> torch.Generator:
    """Noise, labels, latents and augmentation of one epoch on one rank: re-seeded at every epoch start, so a run
    resumed at an epoch boundary continues exactly as if it had never stopped."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + rank * 10_007 + epoch + 1)


def _append_metrics(out: Path, record: dict[str, Any]) -> None:
    with open(out / METRICS_JSONL, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, allow_nan=True) + "\n")


def _truncate_metrics(out: Path, step: int) -> None:
    """Drop records a crashed run logged after its last checkpoint, so the resumed log has no duplicate steps."""
    path = out / METRICS_JSONL
    if path.is_file():
        kept = [r for r in read_metrics(path) if int(r.get("step", 0)) <= step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _mean_across_ranks(values: dict[str, float], runtime: Runtime) -> dict[str, float]:
    if not runtime.distributed:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=runtime.device)
    dist.all_reduce(tensor)
    return {k: float(v) / runtime.world_size for k, v in zip(keys, tensor.tolist(), strict=True)}


_clock = time.monotonic  # a module attribute, so tests can drive it


def _checkpoint_due(config: CommonConfig, epoch: int, step: int, last_checkpoint: float | None) -> bool:
    """At an epoch end: the last epoch, the first of this process, a step checkpoint falling here, or the interval."""
    every = config.checkpoint_every_steps
    return (
        epoch + 1 == config.epochs
        or last_checkpoint is None
        or bool(every and step % every == 0)
        or _clock() - last_checkpoint >= config.checkpoint_min_interval_s
    )


def _checkpoint(trainer: Trainer, out: Path, position: Position, rng: torch.Generator, config: CommonConfig) -> None:
    state = TrainingState(
        nets={name: net.state_dict() for name, net in trainer.nets.items()},
        optimizers={name: opt.state_dict() for name, opt in trainer.optimizers.items()},
        tensors={"rng_state": rng.get_state()},
        meta={"kind": trainer.kind, **{k: v for k, v in dataclasses.asdict(position).items() if k != "stopped_by"},
              "config": dataclasses.asdict(config)},
    )
    save_training_state(out, state)


@torch.no_grad()
def _sample_images(trainer: Trainer, latents: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if hasattr(trainer, "prepare_average"):
        trainer.prepare_average()
    generator = trainer.generator
    generator.eval()
    images = generator(latents.to(runtime.device)).float().cpu()
    generator.train()
    return images


# ---------------------------------------------------------------------------------------------------------------
# 3. The run


def _track_quality(trainer: Trainer, tracker: quality.QualityTracker, out: Path, step: int, images_seen: int,
                   elapsed_s: float, keep_best: bool = False) -> None:
    """One "quality" record in metrics.jsonl: the saved generator's distances and, with a weight average, the
    trained generator's Frechet distance beside it (what the average buys, measured in the same run). With
    `keep_best`, the better of the two is kept in <out>/best/ when it beats every earlier record (`new_best`)."""
    record: dict[str, Any] = {"event": "quality", "step": step, "images_seen": images_seen, "time_s": round(elapsed_s, 1)}
    if hasattr(trainer, "prepare_average"):
        trainer.prepare_average()
    record.update(tracker.measure(trainer.generator))
    trained = getattr(trainer, "trained_generator", trainer.generator)
    if trained is not trainer.generator:
        record.update(tracker.measure(trained, prefix="trained_"))
    if keep_best:
        candidates = {"trained": (trained, float(record.get("trained_frechet_probe", record["frechet_probe"])))}
        if trained is not trainer.generator:
            candidates["average"] = (trainer.generator, float(record["frechet_probe"]))
        record["new_best"] = best.offer(out, candidates, step, images_seen)
    trainer.train_mode()
    _append_metrics(out, record)


def _over_budget(config: CommonConfig, started: float) -> bool:
    return bool(config.max_minutes) and time.time() - started >= config.max_minutes * 60.0


@dataclass
class _Loop:
    """One process's epoch loop: what stays fixed from step to step, and when this process last wrote a checkpoint."""

    trainer: Trainer
    config: CommonConfig
    train: TrainingData
    out: Path
    runtime: Runtime
    tracker: quality.QualityTracker | None
    progress: bool
    started: float  # time.time() at the run's start, counting the time of the sessions before a resume
    steps_per_epoch: int
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    fixed_latents: torch.Tensor  # (sample_count, latent_dim): every epoch's sample grid shows the same latents
    last_checkpoint: float | None = None  # _clock() of the last one; None: the first epoch end writes one

    def elapsed(self) -> float:
        return time.time() - self.started


class _LossWindow:
    """Loss sums since the last "step" record, kept on the device so that only a record reads them (one sync)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0
        self.start = time.time()

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        self.steps += 1
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, torch.zeros((), device=value.device)) + value.float()


def _train_epochs(
    trainer: Trainer, config: CommonConfig, train: TrainingData, out: Path, runtime: Runtime, position: Position,
    rng_state: torch.Tensor | None, progress: bool, tracker: quality.QualityTracker | None = None,
) -> Position:
    """Epochs from `position` on, until config.epochs or until config.max_minutes is spent (stopped_by says which)."""
    sample_rng = torch.Generator().manual_seed(config.sample_seed)
    loop = _Loop(
        trainer, config, train, out, runtime, tracker, progress, started=time.time() - position.elapsed_s,
        steps_per_epoch=batches_per_epoch(len(train), config.batch_size, runtime.world_size), augment=make_augment(config),
        fixed_latents=torch.randn(config.sample_count, config.latent_dim, generator=sample_rng),
    )
    for epoch in range(position.epoch, config.epochs):
        first = position.batch if epoch == position.epoch else 0
        rng = _epoch_stream(loop, epoch, first, rng_state)
        epoch_start = time.time()
        position = _train_epoch(loop, epoch, first, position, rng)
        if position.stopped_by == "max_minutes":
            return position
        if _end_epoch(loop, epoch, position, rng, epoch_start):
            return dataclasses.replace(position, stopped_by="max_minutes")
    return position


def _epoch_stream(loop: _Loop, epoch: int, first: int, rng_state: torch.Tensor | None) -> torch.Generator:
    """The epoch's random stream, positioned for batch `first`."""
    config, runtime = loop.config, loop.runtime
    rng = _epoch_rng(config.seed, runtime.rank, epoch, runtime.device)
    if first > 0:  # mid-epoch resume: rank 0 continues its exact stream; other ranks get a fresh, seeded one
        if runtime.is_main and rng_state is not None:
            rng.set_state(rng_state)
        else:
            rng.manual_seed(config.seed * 1_000_003 + runtime.rank * 10_007 + epoch * 7919 + first)
    return rng


def _train_epoch(loop: _Loop, epoch: int, first: int, position: Position, rng: torch.Generator) -> Position:
    """Batches `first`.. of one epoch: step, log, track quality, checkpoint when due; a spent time budget stops it
    mid-epoch (checkpointed, stopped_by "max_minutes")."""
    config, runtime = loop.config, loop.runtime
    batches = epoch_batches(len(loop.train), config.batch_size, epoch=epoch, seed=config.seed, rank=runtime.rank,
                            world_size=runtime.world_size)
    loop.trainer.train_mode()
    bar = tqdm(range(first, loop.steps_per_epoch), desc=f"{loop.trainer.kind} epoch {epoch + 1}/{config.epochs}",
               disable=not (loop.progress and runtime.is_main), unit="step", dynamic_ncols=True)
    window = _LossWindow()
    for b in bar:
        window.add(_step_on_batch(loop, batches[b], rng, epoch + b / loop.steps_per_epoch))
        position.step += 1
        last = b == loop.steps_per_epoch - 1
        if position.step % config.log_every_steps == 0 or last:
            _log_window(loop, window, bar, epoch, position.step)
            window = _LossWindow()
        _after_step(loop, epoch, b, position.step, rng, last)
        if not last and _over_budget(config, loop.started):
            bar.close()
            return _stop_mid_epoch(loop, Position(epoch, b + 1, position.step, loop.elapsed(), stopped_by="max_minutes"), rng)
    bar.close()
    return Position(epoch + 1, 0, position.step, loop.elapsed())


def _step_on_batch(loop: _Loop, indices: list[int], rng: torch.Generator, progress_epochs: float) -> dict[str, torch.Tensor]:
    """One optimiser step on the slices at `indices`, augmented when the run augments; the step's losses."""
    runtime = loop.runtime
    real = loop.train.images(sorted(indices)).to(runtime.device, non_blocking=True)
    real = real.contiguous(memory_format=runtime.memory_format)
    if loop.augment is not None:
        real = loop.augment(real, rng)
    return loop.trainer.step(real, rng, progress_epochs)


def _log_window(loop: _Loop, window: _LossWindow, bar: tqdm, epoch: int, step: int) -> None:
    """One "step" record: the window's mean losses (averaged over ranks: every rank calls this) and throughput."""
    config, runtime = loop.config, loop.runtime
    means = _mean_across_ranks({k: float(v) / window.steps for k, v in window.sums.items()}, runtime)
    elapsed = time.time() - window.start
    images_per_s = window.steps * config.batch_size * runtime.world_size / max(elapsed, 1e-9)
    record = {"event": "step", "epoch": epoch + 1, "step": step, **{k: round(v, 5) for k, v in means.items()},
              "images_per_s": round(images_per_s, 2), "time_s": round(loop.elapsed(), 1)}
    bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()})
    if runtime.is_main:
        _append_metrics(loop.out, record)


def _after_step(loop: _Loop, epoch: int, b: int, step: int, rng: torch.Generator, last: bool) -> None:
    """Quality tracking and a step checkpoint, when they fall on this step (an epoch's last step checkpoints at the
    epoch end instead)."""
    config = loop.config
    if loop.tracker is not None and config.quality_every_steps and step % config.quality_every_steps == 0:
        images_seen = step * config.batch_size * loop.runtime.world_size
        _track_quality(loop.trainer, loop.tracker, loop.out, step, images_seen, loop.elapsed(),
                       keep_best=bool(getattr(config, "keep_best", False)))
    every = config.checkpoint_every_steps
    if every and step % every == 0 and not last and loop.runtime.is_main:
        _checkpoint(loop.trainer, loop.out, Position(epoch, b + 1, step, loop.elapsed()), rng, config)
        loop.last_checkpoint = _clock()


def _append_stop(out: Path, position: Position) -> None:
    _append_metrics(out, {"event": "stop", "reason": "max_minutes", "step": position.step,
                          "time_s": round(position.elapsed_s, 1)})


def _stop_mid_epoch(loop: _Loop, position: Position, rng: torch.Generator) -> Position:
    """The time budget ran out inside an epoch: rank 0 checkpoints there, so a resume continues from this batch."""
    if loop.runtime.is_main:
        _checkpoint(loop.trainer, loop.out, position, rng, loop.config)
        _append_stop(loop.out, position)
    return position


def _end_epoch(loop: _Loop, epoch: int, position: Position, rng: torch.Generator, epoch_start: float) -> bool:
    """Rank 0 logs the epoch, checkpoints when due (always when the budget is spent), draws the samples and curves;
    every rank waits for it. Returns whether the time budget ends the run here."""
    config, runtime, out = loop.config, loop.runtime, loop.out
    budget_spent = epoch + 1 < config.epochs and _over_budget(config, loop.started)
    if runtime.is_main:
        _append_metrics(out, {"event": "epoch", "epoch": epoch + 1, "step": position.step,
                              "epoch_s": round(time.time() - epoch_start, 1), "time_s": round(position.elapsed_s, 1)})
        if budget_spent or _checkpoint_due(config, epoch, position.step, loop.last_checkpoint):
            _checkpoint(loop.trainer, out, position, rng, config)
            loop.last_checkpoint = _clock()
        save_grid_png(_sample_images(loop.trainer, loop.fixed_latents, runtime), out / SAMPLES_DIR / f"epoch_{epoch + 1:03d}.png")
        save_curves_png(out / METRICS_JSONL, out / "curves.png", loop.trainer.curve_keys)
    runtime.barrier()
    if budget_spent and runtime.is_main:
        _append_stop(out, position)
    return budget_spent


def _final_metrics(
    trainer: Trainer, config: CommonConfig, train: TrainingData, test: TrainingData, runtime: Runtime
) -> dict[str, Any]:
    """Quality against the held-out split; a VAE also reports its reconstruction error in HU."""
    metrics: dict[str, Any] = {}
    real_test = quality.subset(test.all_images(), config.quality_samples)
    if trainer.kind == "vae":
        metrics["test_reconstruction_mae_hu"] = round(_reconstruction_mae_hu(trainer, real_test, runtime), 2)
    probe = quality.open_probe(config.probe_dir or None, runtime.device)
    if probe is None:
        metrics["quality"] = "not measured: no phantom probe (train one with `latentct train probe`)"
        return metrics
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[: config.quality_samples]
    real_train = train.images(sorted(order.tolist()))
    has_factors = train.factor_matrix(probe.factor_names) is not None
    metrics.update(quality.evaluate_generator(trainer.generator, config.latent_dim, real_test, probe, config.quality_samples,
                                              real_train, has_factors))
    return metrics


@torch.no_grad()
def _reconstruction_mae_hu(trainer: Trainer, images: torch.Tensor, runtime: Runtime) -> float:
    from latentct.core.hu import HU_RANGE

    encoder, decoder = trainer.nets["encoder"].eval(), trainer.generator.eval()
    errors = []
    for i in range(0, len(images), 128):
        batch = images[i : i + 128].to(runtime.device)
        errors.append((decoder(encoder(batch)[0]).float() - batch).abs().mean(dim=(1, 2, 3)).cpu())
    trainer.train_mode()
    return float(torch.cat(errors).mean()) * (HU_RANGE[1] - HU_RANGE[0]) / 2


def _choose_generator(trainer: Trainer, tracker: quality.QualityTracker | None, out: Path,
                      keep_best: bool = False) -> dict[str, Any]:
    """A GAN with a weight average saves the better of the average and the trained generator (by Frechet distance
    on the tracker's samples); without a tracker the average (standing statistics) is saved. With `keep_best`, the
    best generator kept during the run is saved instead when its distance is lower still."""
    if hasattr(trainer, "prepare_average"):
        trainer.prepare_average()
    if tracker is None or not hasattr(trainer, "choose_generator"):
        return {}

    def frechet(generator: nn.Module) -> float:
        return float(tracker.measure(generator)["frechet_probe"])

    choice: dict[str, Any] = trainer.choose_generator(frechet)
    kept = best.read_best(out) if keep_best else None
    if kept is None or not isinstance(trainer, GANTrainer):
        return choice
    scores = choice.get("generator_choice", {}).get("frechet_probe") or {"trained": round(frechet(trainer.generator), 3)}
    scores = {**scores, f"best (step {kept.step})": round(kept.frechet_probe, 3)}
    rule = ("the lowest Frechet distance on the tracker's samples: the average, the trained generator, or the best "
            "kept during the run")
    if kept.frechet_probe >= min(v for k, v in scores.items() if not k.startswith("best")):
        return {**choice, "saved_generator": choice.get("saved_generator", "trained"),
                "generator_choice": {"frechet_probe": scores, "rule": rule}}
    best.load_best(out, trainer.trained_generator)
    trainer.ship_trained = True
    trainer.train_mode()
    return {"saved_generator": "best", "best": {"step": kept.step, "images_seen": kept.images_seen, "which": kept.which},
            "generator_choice": {"frechet_probe": scores, "rule": rule}}


def _save_final(
    trainer: Trainer, config: CommonConfig, arch: dict[str, Any], out: Path, data: dict[str, Any], metrics: dict[str, Any],
    position: Position, runtime: Runtime, started_record: dict[str, Any], choice: dict[str, Any] | None = None,
) -> ModelCard:
    fixed = torch.randn(24, config.latent_dim, generator=torch.Generator().manual_seed(config.sample_seed))
    save_grid_png(_sample_images(trainer, fixed, runtime), out / "samples.png", columns=8)
    images_per_s = position.step * config.batch_size * runtime.world_size / max(position.elapsed_s, 1e-9)
    amp = runtime.amp_dtype
    training = {
        "epochs": config.epochs, "steps": position.step, "batch_size": config.batch_size, "world_size": runtime.world_size,
        "device": str(runtime.device), "seconds": round(position.elapsed_s, 1), "images_per_s": round(images_per_s, 2),
        "images_seen": position.step * config.batch_size * runtime.world_size,
        "minutes": round(position.elapsed_s / 60.0, 1), "stopped_by": position.stopped_by, "recipe": config.recipe,
        "precision": "bf16 autocast" if amp is torch.bfloat16 else "fp32", "torch_threads": torch.get_num_threads(),
        **(choice or {}),
        "config": dataclasses.asdict(config),
    }
    prov = provenance({"data_dir": data["path"], "data_seed": data["seed"], "epochs": config.epochs,
                       "training_seconds": round(position.elapsed_s, 1), "started": started_record.get("created")})
    for net in trainer.nets.values():
        net.eval()
    return save_model(out, kind=trainer.kind, arch=arch, nets=model_nets(trainer), data=data, training=training,
                      metrics=metrics, provenance=prov, **trainer.card_extras())


def _quality_tracker(config: CommonConfig, train: TrainingData, test: TrainingData, runtime: Runtime
                     ) -> quality.QualityTracker | None:
    probe = quality.open_probe(config.probe_dir or None, runtime.device)
    if probe is None:
        return None
    real_test = quality.subset(test.all_images(), max(config.quality_samples, config.quality_track_samples))
    has_factors = train.factor_matrix(probe.factor_names) is not None
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(1))[: config.quality_track_samples]
    real_train = train.images(sorted(order.tolist()))
    return quality.QualityTracker(probe, real_test, config.latent_dim, config.quality_track_samples, has_factors, real_train)


def _run(
    kind: str, config: CommonConfig, record: dict[str, Any] | None, train: TrainingData, test: TrainingData, out: Path,
    runtime: Runtime, progress: bool,
) -> TrainResult:
    arch = arch_of(kind, config, train.image_size)
    runtime.precision = config.precision
    runtime.channels_last = use_channels_last(kind, config.channels_last, runtime.device, runtime.amp_dtype is not None)
    check_batch_size(len(train), config.batch_size, runtime.world_size)
    torch.manual_seed(config.seed)  # initial weights
    trainer = make_trainer(kind, config, arch, runtime)
    data = _data_record(train, test)
    position, rng_state = Position(), None
    if record is not None:
        recorded = record.get("data", {})
        if record.get("arch") != arch or recorded.get("train_slices") != data["train_slices"]:
            raise InvalidInputError(
                f"cannot resume: the run was trained on {recorded.get('path')!r} ({recorded.get('train_slices')} training "
                f"slices, arch {record.get('arch')}); --data gives {data['train_slices']} slices, arch {arch}"
            )
        state = load_training_state(out)
        position = _restore(trainer, state, out)
        if runtime.is_main:
            best.forget_after(out, position.step)
        rng_state = state.tensors.get("rng_state")
        if position.epoch >= config.epochs:
            raise InvalidInputError(f"the run already trained {position.epoch} epoch(s); pass --epochs above that to continue")
    if runtime.is_main:
        ensure_writable_dir(out)
        if record is None:
            record = {"kind": kind, "config": dataclasses.asdict(config), "arch": arch, "data": data,
                      "world_size": runtime.world_size, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "provenance": provenance()}
        else:
            record = {**record, "config": dataclasses.asdict(config), "resumed": [*record.get("resumed", []), position.step]}
            _truncate_metrics(out, position.step)
        write_json(out / CONFIG_JSON, record)
    runtime.barrier()
    tracker = _quality_tracker(config, train, test, runtime) if runtime.is_main and config.quality_every_steps else None
    position = _train_epochs(trainer, config, train, out, runtime, position, rng_state, progress, tracker)
    card = None
    if runtime.is_main:
        choice = _choose_generator(trainer, tracker, out, keep_best=bool(getattr(config, "keep_best", False)))
        metrics = _final_metrics(trainer, config, train, test, runtime)
        card = _save_final(trainer, config, arch, out, data, metrics, position, runtime, record or {}, choice)
    runtime.barrier()
    return TrainResult(card=card, nets=trainer.nets, steps=position.step)


def run_training(
    kind: str,
    data_dir: Path | str,
    out: Path | str,
    config_file: Path | str | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train a `kind` ("gan" | "vae") model on the dataset at `data_dir`; `out` becomes the model folder.

    Every input is checked before anything is written: a bad config, a directory that is not a dataset, an
    occupied --out without --resume, or a checkpoint that does not fit raise one LatentCTError.
    """
    if kind not in ("gan", "vae"):
        raise InvalidInputError(f"kind must be 'gan' or 'vae', got {kind!r}")
    out = Path(out)
    validate_id("model id (the --out folder name)", out.name)
    config, record = _prepare_config(kind, out, Path(config_file) if config_file else None, overrides or {}, resume)
    train, test = open_split(data_dir, "train"), open_split(data_dir, "test")
    runtime = start_runtime(config.device)
    try:
        with torch_threads(config.threads):
            return _run(kind, config, record, train, test, out, runtime, progress)
    finally:
        stop_runtime(runtime)
