"""Voynov & Babenko's unsupervised discovery: learn K latent directions that a reconstructor can tell apart.

A frozen generator G renders the pair (G(z), G(z + eps * d_k)); a reconstructor predicts k (cross-entropy) and
eps (L1, weight 0.25). Directions that change the image in distinguishable ways win. Gradients flow through the
frozen generator into the direction model.

The paper's schedule takes hours on a CPU, so a run can be cut into pieces: with a checkpoint folder the training
state (both nets, Adam, the batch sampler's RNG, the history) is saved every few minutes and when the run stops,
and a later run with `resume` continues it, with exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from latentct.artifacts.checkpoints import TrainingState, has_training_state, load_training_state, save_training_state
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.core.hardware import cpu_has_native_bf16
from latentct.nets.directions import DIRECTION_MODELS, DirectionModel, build_direction_model, row_norms
from latentct.nets.reconstructors import RECONSTRUCTORS, build_reconstructor


@dataclass
class VoynovConfig:
    """The paper's settings by default (K = 32, ortho, batch 128, 3000 steps, Adam 1e-4, eps in [-6, 6])."""

    count: int = 32
    direction_model: str = "ortho"
    reconstructor: str = "lenet"
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-4
    direction_lr: float | None = None  # None: the same as lr (the paper); larger moves directions further in few steps
    shift_range: float = 6.0
    min_shift: float = 0.5
    label_weight: float = 1.0
    shift_weight: float = 0.25
    seed: int = 0
    amp_bf16: bool = False  # autocast to bfloat16 on CUDA and on CPUs with native bf16 (AMX / AVX512-BF16)
    rca_samples: int = 1024
    max_minutes: float | None = None  # stop early after this much training time (shared machines); steps done are recorded

    def check(self, latent_dim: int) -> None:
        """Raise InvalidInputError naming the first bad value."""
        if self.direction_model not in DIRECTION_MODELS:
            raise InvalidInputError(f"direction model {self.direction_model!r} is unknown; allowed: {sorted(DIRECTION_MODELS)}")
        if self.reconstructor not in RECONSTRUCTORS:
            raise InvalidInputError(f"reconstructor {self.reconstructor!r} is unknown; allowed: {sorted(RECONSTRUCTORS)}")
        if not 2 <= self.count <= 10_000:
            raise InvalidInputError(f"K = {self.count} directions is not allowed; use 2..10000")
        if self.direction_model == "ortho" and self.count != latent_dim:
            raise InvalidInputError(
                f"the 'ortho' direction model needs K equal to the latent size: K = {self.count}, latent_dim = {latent_dim}"
            )
        for name in ("steps", "batch_size", "rca_samples"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.direction_lr is not None and not self.direction_lr > 0:
            raise InvalidInputError(f"direction_lr must be > 0, got {self.direction_lr}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise InvalidInputError(f"max_minutes must be > 0, got {self.max_minutes}")
        if not (self.lr > 0 and 0 < self.min_shift < self.shift_range):
            raise InvalidInputError(
                f"need lr > 0 and 0 < min_shift < shift_range, got {self.lr}, {self.min_shift}, {self.shift_range}"
            )


@dataclass
class VoynovResult:
    directions: torch.Tensor  # (K, latent_dim), unit rows, CPU
    row_norms: torch.Tensor  # (K,), trained row lengths (1 except for the linear model)
    metrics: dict[str, Any]
    direction_metrics: list[dict[str, Any]]
    history: list[dict[str, float]] = field(default_factory=list)


RESUMABLE = ("steps", "max_minutes", "rca_samples")  # what a resumed run may change; the rest must match


@dataclass
class VoynovCheckpoint:
    """Where the training state is kept, how often it is saved, and whether this run continues it."""

    folder: Path
    resume: bool = False
    every_minutes: float = 5.0  # of training time; 0: after every step
    identity: dict[str, Any] = field(default_factory=dict)  # must match to resume, e.g. the generator's checksum


@contextlib.contextmanager
def frozen(generator: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients for the duration; gradients still flow through to the input."""
    was_training = generator.training
    flags = [p.requires_grad for p in generator.parameters()]
    generator.eval()
    generator.requires_grad_(False)
    try:
        yield generator
    finally:
        for p, flag in zip(generator.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        generator.train(was_training)


def sample_shifts(batch_size: int, config: VoynovConfig, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    """eps uniform in [-range, range], with |eps| < min_shift pushed out to +-min_shift (never a zero shift)."""
    eps = (torch.rand(batch_size, generator=rng, device=device) * 2 - 1) * config.shift_range
    sign = torch.where(eps >= 0, 1.0, -1.0)
    return torch.where(eps.abs() < config.min_shift, sign * config.min_shift, eps)


def sample_batch(
    latent_dim: int, batch_size: int, config: VoynovConfig, rng: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z [B, D] ~ N(0, I), direction_index [B] uniform over K, shift [B])."""
    z = torch.randn(batch_size, latent_dim, generator=rng, device=device)
    direction_index = torch.randint(0, config.count, (batch_size,), generator=rng, device=device)
    return z, direction_index, sample_shifts(batch_size, config, rng, device)


def _precision(device: torch.device, amp_bf16: bool) -> str:
    """The arithmetic a run gets: "bf16" (autocast) when asked for on CUDA or a CPU with native bf16, else "fp32"."""
    return "bf16" if amp_bf16 and (device.type == "cuda" or cpu_has_native_bf16()) else "fp32"


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast when asked for, on CUDA and on CPUs that run bf16 natively (elsewhere it would be slower)."""
    if _precision(device, enabled) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _pair(generator: nn.Module, z: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """[B, 2, H, W]: the original (no gradient needed) and the shifted image (gradient to the direction model)."""
    with torch.no_grad():
        original = generator(z)
    shifted = generator(z + shift)
    return torch.cat([original, shifted], dim=1).float()


def train_step(
    generator: nn.Module,
    direction_model: DirectionModel,
    reconstructor: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    config: VoynovConfig,
) -> dict[str, float]:
    z, direction_index, shift = batch
    optimizer.zero_grad(set_to_none=True)
    with _autocast(z.device, config.amp_bf16):
        pair = _pair(generator, z, direction_model(direction_index, shift))
        logits, shift_pred = reconstructor(pair)
    label_loss = F.cross_entropy(logits.float(), direction_index)
    shift_loss = F.l1_loss(shift_pred.float(), shift)
    loss = config.label_weight * label_loss + config.shift_weight * shift_loss
    loss.backward()
    optimizer.step()
    accuracy = (logits.argmax(dim=1) == direction_index).float().mean()
    values = torch.stack([loss, label_loss, shift_loss, accuracy]).detach().float().cpu().tolist()  # one device sync
    return dict(zip(("loss", "label_loss", "shift_loss", "accuracy"), values, strict=True))


@torch.no_grad()
def recalibrate_batch_norm(
    generator: nn.Module,
    direction_model: DirectionModel,
    reconstructor: nn.Module,
    config: VoynovConfig,
    latent_dim: int,
    device: torch.device,
    seed: int,
    batches: int = 32,
) -> None:
    """Precise BatchNorm: replace the reconstructor's running statistics by exact averages over fresh batches.

    Why: under Adam the reconstructor's activations drift during training and the running (EMA) statistics lag, so
    eval-mode accuracy can sit near chance while train-mode accuracy is high. Measured on the demo DCGAN after 150
    steps: 0.03 eval-mode with the EMA statistics, 0.13 train-mode, 0.13 eval-mode after this recalibration.
    """
    norms = [m for m in reconstructor.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    was_training = reconstructor.training
    reconstructor.train()
    rng = torch.Generator(device=device).manual_seed(seed)
    for _ in range(batches if norms else 0):
        z, direction_index, shift = sample_batch(latent_dim, config.batch_size, config, rng, device)
        with _autocast(device, config.amp_bf16):
            reconstructor(_pair(generator, z, direction_model(direction_index, shift)))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    reconstructor.train(was_training)


@torch.no_grad()
def reconstructor_accuracy(
    generator: nn.Module,
    direction_model: DirectionModel,
    reconstructor: nn.Module,
    config: VoynovConfig,
    latent_dim: int,
    device: torch.device,
    seed: int,
) -> tuple[float, float, list[float]]:
    """RCA on fresh samples: (overall accuracy, shift MAE, accuracy per direction)."""
    was_training = reconstructor.training
    reconstructor.eval()
    rng = torch.Generator(device=device).manual_seed(seed)
    correct = torch.zeros(config.count, device=device)
    seen = torch.zeros(config.count, device=device)
    abs_error = 0.0
    remaining = config.rca_samples
    while remaining > 0:
        n = min(remaining, config.batch_size)
        z, direction_index, shift = sample_batch(latent_dim, n, config, rng, device)
        with _autocast(device, config.amp_bf16):
            logits, shift_pred = reconstructor(_pair(generator, z, direction_model(direction_index, shift)))
        hit = (logits.argmax(dim=1) == direction_index).float()
        correct.index_add_(0, direction_index, hit)
        seen.index_add_(0, direction_index, torch.ones_like(hit))
        abs_error += float((shift_pred.float() - shift).abs().sum())
        remaining -= n
    reconstructor.train(was_training)
    per_direction = (correct / seen.clamp(min=1)).tolist()
    return float(correct.sum() / seen.sum()), abs_error / config.rca_samples, per_direction


def _build_training(
    config: VoynovConfig, latent_dim: int, image_size: int, device: torch.device
) -> tuple[DirectionModel, nn.Module, torch.optim.Optimizer]:
    """The direction model, the reconstructor (initialised from config.seed) and one Adam over both."""
    torch.manual_seed(config.seed)  # network initialisation
    direction_model = build_direction_model(config.direction_model, config.count, latent_dim).to(device)
    reconstructor = build_reconstructor(config.reconstructor, config.count, image_size).to(device).train()
    optimizer = torch.optim.Adam(
        [
            {"params": list(direction_model.parameters()), "lr": config.direction_lr or config.lr},
            {"params": list(reconstructor.parameters()), "lr": config.lr},
        ]
    )
    return direction_model, reconstructor, optimizer


@dataclass
class _Training:
    """What the training loop leaves behind for the metrics (and a checkpoint keeps)."""

    history: list[dict[str, float]] = field(default_factory=list)  # every 10th step's losses and accuracy
    running_accuracy: float | None = None  # exponential average of the batch accuracy (None: no step done)
    steps_done: int = 0
    seconds: float = 0.0  # training time over every run of this training, resumed ones included
    resumed_from_step: int = 0
    # one entry per run of this training: {"from_step", "to_step", "precision", "device", "seconds"}; a resume on
    # another machine may run other arithmetic (bf16 autocast only where the CPU has it natively), so each piece says
    pieces: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Nets:
    """The trained parts: the direction model, the reconstructor, their optimiser and the batch sampler's RNG."""

    direction_model: DirectionModel
    reconstructor: nn.Module
    optimizer: torch.optim.Optimizer
    rng: torch.Generator


def _save_checkpoint(checkpoint: VoynovCheckpoint, nets: _Nets, training: _Training, config: VoynovConfig) -> None:
    state = TrainingState(
        nets={"direction_model": nets.direction_model.state_dict(), "reconstructor": nets.reconstructor.state_dict()},
        optimizers={"adam": nets.optimizer.state_dict()},
        tensors={"rng_state": nets.rng.get_state()},
        meta={"kind": "voynov", "config": asdict(config), "identity": checkpoint.identity,
              "steps_done": training.steps_done, "running_accuracy": training.running_accuracy,
              "seconds": training.seconds, "history": training.history, "pieces": training.pieces},
    )
    save_training_state(checkpoint.folder, state)


def _check_resumable(folder: Path, meta: dict[str, Any], config: VoynovConfig, identity: dict[str, Any]) -> None:
    """Refuse a checkpoint of another kind, another generator or another configuration, naming the value."""
    if meta.get("kind") != "voynov":
        raise InvalidInputError(f"--resume: {folder} holds a {meta.get('kind')!r} checkpoint, not a Voynov one")
    for key, value in identity.items():
        if meta.get("identity", {}).get(key) != value:
            raise InvalidInputError(
                f"--resume: the checkpoint in {folder} was trained with {key} = {meta.get('identity', {}).get(key)!r}, "
                f"this run has {value!r}"
            )
    saved = meta.get("config", {})
    for key, value in asdict(config).items():
        if key not in RESUMABLE and saved.get(key) != value:
            raise InvalidInputError(
                f"--resume: the checkpoint in {folder} was trained with {key} = {saved.get(key)!r}, this run asks for "
                f"{value!r}; only {', '.join(RESUMABLE)} may change"
            )


def _start(checkpoint: VoynovCheckpoint | None, nets: _Nets, config: VoynovConfig) -> _Training:
    """A fresh start, or the state of the checkpoint being resumed (loaded into `nets`)."""
    if checkpoint is None:
        return _Training()
    folder = checkpoint.folder
    if not checkpoint.resume:
        if has_training_state(folder):
            raise InvalidInputError(
                f"{folder} already holds a Voynov checkpoint; add --resume to continue it, or give another --checkpoint folder"
            )
        return _Training()
    if not has_training_state(folder):
        raise InvalidInputError(f"--resume: {folder} holds no checkpoint to continue (a run with --checkpoint makes one)")
    state = load_training_state(folder)
    _check_resumable(folder, state.meta, config, checkpoint.identity)
    try:
        nets.direction_model.load_state_dict(state.nets["direction_model"])
        nets.reconstructor.load_state_dict(state.nets["reconstructor"])
        nets.optimizer.load_state_dict(state.optimizers["adam"])
        nets.rng.set_state(state.tensors["rng_state"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ArtifactError(f"{folder}: the checkpoint does not fit this configuration ({exc})") from None
    steps_done = int(state.meta["steps_done"])
    seconds = float(state.meta.get("seconds", 0.0))
    pieces = state.meta.get("pieces") or [  # a checkpoint from before pieces were recorded
        {"from_step": 0, "to_step": steps_done, "precision": "unrecorded", "device": "unrecorded", "seconds": round(seconds, 2)}
    ]
    return _Training(list(state.meta.get("history", [])), state.meta.get("running_accuracy"), steps_done, seconds,
                     resumed_from_step=steps_done, pieces=list(pieces))


def _train_loop(generator: nn.Module, nets: _Nets, config: VoynovConfig, latent_dim: int, training: _Training,
                checkpoint: VoynovCheckpoint | None, progress: bool) -> _Training:
    """Steps from `training.steps_done` to config.steps, or fewer when config.max_minutes runs out."""
    started = last_saved = time.perf_counter()
    seconds_before = training.seconds
    device = nets.rng.device
    piece = {"from_step": training.steps_done, "to_step": training.steps_done,
             "precision": _precision(device, config.amp_bf16), "device": device.type, "seconds": 0.0}
    training.pieces.append(piece)
    bar = tqdm(range(training.steps_done, config.steps), initial=training.steps_done, total=config.steps,
               desc=f"voynov {config.direction_model}/{config.reconstructor}", disable=not progress)
    for step in bar:
        if config.max_minutes is not None and time.perf_counter() - started > 60 * config.max_minutes:
            break
        batch = sample_batch(latent_dim, config.batch_size, config, nets.rng, nets.rng.device)
        stats = train_step(generator, nets.direction_model, nets.reconstructor, nets.optimizer, batch, config)
        previous = training.running_accuracy
        training.running_accuracy = stats["accuracy"] if previous is None else 0.95 * previous + 0.05 * stats["accuracy"]
        if step % 10 == 0 or step == config.steps - 1:
            training.history.append({"step": step, **stats})
            bar.set_postfix(loss=f"{stats['loss']:.3f}", acc=f"{training.running_accuracy:.3f}")
        training.steps_done = step + 1
        training.seconds = seconds_before + time.perf_counter() - started
        piece.update(to_step=training.steps_done, seconds=round(training.seconds - seconds_before, 2))
        if checkpoint is not None and time.perf_counter() - last_saved >= 60 * checkpoint.every_minutes:
            _save_checkpoint(checkpoint, nets, training, config)
            last_saved = time.perf_counter()
    bar.close()
    if piece["to_step"] == piece["from_step"] and len(training.pieces) > 1:
        training.pieces.pop()  # a resume with nothing left to run adds no piece
    if checkpoint is not None:
        _save_checkpoint(checkpoint, nets, training, config)
    return training


def _set_metrics(config: VoynovConfig, training: _Training, rca: float, shift_mae: float) -> dict[str, Any]:
    """The saved set's metrics: held-out RCA beside chance, and how much training was done in how long."""
    return {
        "rca": rca,
        "rca_chance": 1.0 / config.count,
        "rca_samples": config.rca_samples,
        "rca_mode": "reconstructor in eval mode after BatchNorm recalibration on 32 fresh batches",
        "shift_mae": shift_mae,
        "final_train_accuracy": training.running_accuracy,
        "train_seconds": round(training.seconds, 2),
        "steps_done": training.steps_done,
        "resumed_from_step": training.resumed_from_step,
        "stopped_by_time_limit": training.steps_done < config.steps,
        "steps_per_second": round(training.steps_done / max(training.seconds, 1e-9), 4),  # over all runs
        "samples_seen": training.steps_done * config.batch_size,
        "precision": _one_precision(training.pieces),
        "pieces": training.pieces,
    }


def _one_precision(pieces: list[dict[str, Any]]) -> str:
    """The pieces' common precision, or "mixed: bf16, fp32" when a resume ran other arithmetic."""
    found = sorted({str(piece["precision"]) for piece in pieces})
    return found[0] if len(found) == 1 else f"mixed: {', '.join(found)}"


def train_voynov(
    generator: nn.Module,
    latent_dim: int,
    image_size: int,
    config: VoynovConfig,
    device: torch.device | str = "cpu",
    progress: bool = True,
    checkpoint: VoynovCheckpoint | None = None,
) -> VoynovResult:
    """Train a direction model and a reconstructor against the frozen `generator`; returns the unit directions.

    Seeded: the same config, generator and device give the same directions, also when the run was cut into pieces
    by `checkpoint` (saved every `every_minutes`, continued with `resume`).
    """
    config.check(latent_dim)
    device = torch.device(device)
    direction_model, reconstructor, optimizer = _build_training(config, latent_dim, image_size, device)
    nets = _Nets(direction_model, reconstructor, optimizer, torch.Generator(device=device).manual_seed(config.seed))
    training = _start(checkpoint, nets, config)
    with frozen(generator):
        training = _train_loop(generator, nets, config, latent_dim, training, checkpoint, progress)
        recalibrate_batch_norm(
            generator, direction_model, reconstructor, config, latent_dim, device, seed=config.seed + 2_000_003
        )
        rca, shift_mae, per_direction = reconstructor_accuracy(
            generator, direction_model, reconstructor, config, latent_dim, device, seed=config.seed + 1_000_003
        )
    directions = direction_model.directions().detach().float().cpu()
    norms = row_norms(direction_model).float().cpu()
    direction_metrics = [
        {"rca": round(acc, 4), "trained_norm": round(float(n), 5)} for acc, n in zip(per_direction, norms, strict=True)
    ]
    return VoynovResult(directions, norms, _set_metrics(config, training, rca, shift_mae), direction_metrics, training.history)


def config_params(config: VoynovConfig) -> dict[str, Any]:
    """The config as the `params` of a saved set."""
    return asdict(config)
