"""Volumes from a 2-D model: N slices along a slice-level direction, straight or factor-locked (research only)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentct.artifacts.cards import Scorecard
from latentct.artifacts.models import LoadedModel
from latentct.artifacts.probe import Probe
from latentct.core.errors import InvalidInputError
from latentct.core.hu import unit_to_hu
from latentct.core.latents import latent_from_seed
from latentct.data.phantom import FACTOR_RANGES, PX_PER_UNIT_AT_WIDTH_1, Z_TO_U
from latentct.rendering.registry import ServedModel

PathKind = Literal["straight", "locked"]
Progress = Callable[[float], None]  # fraction done, for a progress bar
PATHS: tuple[str, ...] = ("straight", "locked")
LEVEL_FACTOR = "z_position"  # the probe's name for the slice level (0 lung apex .. 1 upper abdomen)
LEVEL_TERM = "slice_level"  # the label vocabulary's term for it
LEVEL_RANGE: tuple[float, float] = FACTOR_RANGES[LEVEL_FACTOR]
MIN_SLICES, MAX_SLICES, DEFAULT_SLICES = 2, 256, 64
FALLBACK_EXTENT = 6.0  # without a probe the level cannot be measured: the traversal range of the web app
SEARCH_EXTENT = 12.0  # how far the shift search looks; beyond, samples leave the prior's shell
SEARCH_STEPS = 13  # one batch of probe evaluations on the straight line, 2 prior sd apart
MM_PER_Z_UNIT = 280.0  # the phantom's thorax length (data/phantom.py: one z unit is about 28 cm)
MM_PER_ANATOMICAL_UNIT = MM_PER_Z_UNIT / Z_TO_U
LOCK_STEPS = 8  # Euler steps per chain of the locked path (each: one batched forward + backward)
MAX_STRETCH = 3.0  # a locked step stretches at most this much to keep the level moving
CHUNK = 64  # latents per forward pass


@dataclass(frozen=True)
class VolumeModel:
    """What a volume needs of a model: a differentiable generator, its sizes and, optionally, a faster no-grad form."""

    generator: nn.Module  # (B, latent_dim) -> (B, 1, H, W) in [-1, 1]
    latent_dim: int
    image_size: int
    hu_range: tuple[float, float]
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None  # e.g. a serving form; same outputs, no autograd

    @classmethod
    def of_loaded(cls, loaded: LoadedModel) -> VolumeModel:
        """A model folder loaded by the artifact layer (CLI, benchmarks)."""
        return cls(loaded.generator.eval(), loaded.latent_dim, loaded.image_size, loaded.hu_range)

    @classmethod
    def of_served(cls, served: ServedModel) -> VolumeModel:
        """A served model: its serving form renders, the eager generator differentiates."""
        return cls(served.generator, served.latent_dim, served.image_size, served.hu_range, served.run_forward)

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.generator.parameters()).dtype


@dataclass
class Volume:
    """A stack of generated axial slices, ordered from apex (index 0) towards the abdomen, and how it was made."""

    images: np.ndarray  # (N, H, W) float32 in [-1, 1]
    latents: torch.Tensor  # (N, latent_dim) float32 CPU
    shifts: list[float]  # the straight-line shift of each slice along the direction (locked: the target shift)
    direction: int
    direction_source: str  # "given", "consensus" or "scorecard"
    set_id: str
    path: str
    hu_range: tuple[float, float]
    slice_spacing_mm: float
    pixel_spacing_mm: float
    level_targets: tuple[float, float] | None = None  # the probe levels the shift search aimed at, first and last slice
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    def hu(self) -> np.ndarray:
        """(N, H, W) float32 HU."""
        return np.asarray(unit_to_hu(self.images, self.hu_range), dtype=np.float32)


def check_slices(slices: int) -> int:
    if isinstance(slices, bool) or not isinstance(slices, (int, np.integer)) or not MIN_SLICES <= slices <= MAX_SLICES:
        raise InvalidInputError(f"slices {slices!r} must be an integer between {MIN_SLICES} and {MAX_SLICES}")
    return int(slices)


def check_path(path: str) -> str:
    if path not in PATHS:
        raise InvalidInputError(f"path {path!r} must be one of: {', '.join(PATHS)}")
    return path


def pixel_spacing_mm(image_size: int) -> float:
    """The phantom's pixel size at a body width of 1 (mm per px of an image of `image_size`)."""
    return MM_PER_ANATOMICAL_UNIT / (PX_PER_UNIT_AT_WIDTH_1 * image_size)


def model_pixel_spacing_mm(model: ServedModel) -> float | None:
    """mm per pixel of the model's images: the phantom's (source "phantom"), else a `pixel_spacing_mm` its card's
    `data` records for the training slices at their `image_size`; None when the card says neither."""
    data = model.data
    if data.get("source") == "phantom":
        return pixel_spacing_mm(model.image_size)
    recorded, size = data.get("pixel_spacing_mm"), data.get("image_size", model.image_size)
    if isinstance(recorded, (int, float)) and recorded > 0 and isinstance(size, int) and size > 0:
        return float(recorded) * size / model.image_size
    return None


def slice_direction(
    set_id: str,
    count: int,
    direction: int | None,
    consensus: Mapping[int, str | None] | None = None,
    scorecard: Scorecard | None = None,
) -> tuple[int, str]:
    """The direction index to walk and where it came from: given, the annotators' consensus, else the scorecard."""
    if direction is not None:
        if isinstance(direction, bool) or not 0 <= int(direction) < count:
            raise InvalidInputError(f"direction {direction!r} is out of range: set {set_id!r} has directions 0..{count - 1}")
        return int(direction), "given"
    agreed = sorted(k for k, term in (consensus or {}).items() if term == LEVEL_TERM and 0 <= k < count)
    if agreed:
        return agreed[0], "consensus"
    best = scorecard.best_direction(set_id, LEVEL_FACTOR) if scorecard is not None else None
    if best is not None and 0 <= best < count:
        return best, "scorecard"
    missing = "no scorecard" if scorecard is None else f"the scorecard has no {LEVEL_FACTOR} entry for set {set_id!r}"
    raise InvalidInputError(
        f"set {set_id!r} has no slice-level direction: no annotators' consensus {LEVEL_TERM!r} and {missing}; "
        "pass a direction index"
    )


def render_unit(model: VolumeModel, latents: torch.Tensor) -> np.ndarray:
    """(N, latent_dim) -> (N, H, W) float32 in [-1, 1], a few batched forward passes without autograd."""
    run = model.forward if model.forward is not None else model.generator
    outputs = []
    with torch.inference_mode():
        for start in range(0, latents.shape[0], CHUNK):
            chunk = latents[start : start + CHUNK].to(model.device, model.dtype)
            outputs.append(run(chunk)[:, 0].float().cpu())
    return torch.cat(outputs).numpy()


def probe_standardised(probe: Probe, images: torch.Tensor) -> torch.Tensor:
    """Differentiable probe read-out in standardised units: images (B, 1, H, W) in [-1, 1] -> (B, F)."""
    images = images.to(probe.device, torch.float32)
    if images.shape[-1] != probe.image_size:
        images = F.interpolate(images, size=(probe.image_size, probe.image_size), mode="bilinear", antialias=True)
    out: torch.Tensor = probe.net(images)
    return out


def level_index(probe: Probe) -> int:
    if LEVEL_FACTOR not in probe.factor_names:
        raise InvalidInputError(f"the probe has no {LEVEL_FACTOR!r} factor (it reads {', '.join(probe.factor_names)})")
    return probe.factor_names.index(LEVEL_FACTOR)


def probe_levels(probe: Probe, images: np.ndarray) -> np.ndarray:
    """(N, H, W) in [-1, 1] -> the probe's level estimate per slice (its own units), (N,)."""
    factors = probe.predict(torch.from_numpy(np.ascontiguousarray(images))[:, None])
    return factors[:, level_index(probe)].numpy().astype(np.float64)


def _reach(ts: np.ndarray, levels: np.ndarray, target: float, downwards: bool) -> tuple[float, float]:
    """Walking outwards along `ts` (from the centre), the first shift whose level passes `target` (linearly
    interpolated), else the shift of the extreme level on that side; returns (shift, level there)."""
    passed = levels <= target if downwards else levels >= target
    hits = np.flatnonzero(passed)
    if hits.size == 0:
        best = int(np.argmin(levels) if downwards else np.argmax(levels))
        return float(ts[best]), float(levels[best])
    i = int(hits[0])
    if i == 0:
        return float(ts[0]), float(levels[0])
    l0, l1 = levels[i - 1], levels[i]
    frac = 0.0 if l1 == l0 else float(np.clip((target - l0) / (l1 - l0), 0.0, 1.0))
    return float(ts[i - 1] + frac * (ts[i] - ts[i - 1])), float(target)


def search_shift_range(
    model: VolumeModel, probe: Probe, base: torch.Tensor, direction: torch.Tensor
) -> tuple[float, float, tuple[float, float]]:
    """Shifts (first, last) along the straight line whose probe levels span the phantom's level range, apex first:
    one batch of SEARCH_STEPS probe evaluations over +-SEARCH_EXTENT; where the range is out of reach, the extreme."""
    grid = np.linspace(-SEARCH_EXTENT, SEARCH_EXTENT, SEARCH_STEPS)
    latents = base[None] + torch.as_tensor(grid, dtype=torch.float32)[:, None] * direction[None]
    levels = probe_levels(probe, render_unit(model, latents))
    centre = SEARCH_STEPS // 2
    up = 1 if np.polyfit(grid, levels, 1)[0] >= 0 else -1  # the shift sign that raises the level
    neg, pos = slice(centre, None, -1), slice(centre, None)  # from the centre outwards
    lo, hi = LEVEL_RANGE
    low_side, high_side = (neg, pos) if up > 0 else (pos, neg)
    first, level_first = _reach(grid[low_side], levels[low_side], lo, downwards=True)
    last, level_last = _reach(grid[high_side], levels[high_side], hi, downwards=False)
    return first, last, (level_first, level_last)


def straight_latents(base: torch.Tensor, direction: torch.Tensor, shifts: np.ndarray) -> torch.Tensor:
    return base[None] + torch.as_tensor(shifts, dtype=torch.float32)[:, None] * direction[None]


def _factor_jacobians(model: VolumeModel, probe: Probe, points: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """d(probe factor f)/dz at every point for the factors `rows`, in standardised units: (P, len(rows), D).
    One batched forward and backward: each point is repeated once per factor and each copy gives one row."""
    n_points, n_rows = points.shape[0], len(rows)
    z = points.repeat_interleave(n_rows, dim=0).detach().to(model.device, model.dtype).requires_grad_(True)
    with torch.enable_grad():
        factors = probe_standardised(probe, model.generator(z).float())  # (P * R, F)
        pick = torch.as_tensor(rows * n_points, device=factors.device)
        factors.gather(1, pick[:, None]).sum().backward()
    assert z.grad is not None
    return z.grad.float().cpu().reshape(n_points, n_rows, -1)


def locked_step(jacobian: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """`step` (P, D) without its components along the other factors' gradients (jacobian rows 1..: (P, O, D)),
    rescaled so that the level (row 0) moves as much as the straight step would move it (capped at MAX_STRETCH)."""
    level, others = jacobian[:, 0], jacobian[:, 1:]
    gram = others @ others.transpose(1, 2)  # (P, O, O)
    ridge = 1e-6 * gram.diagonal(dim1=1, dim2=2).mean(dim=1).clamp(min=1e-12)[:, None, None]
    coeffs = torch.linalg.solve(gram + ridge * torch.eye(gram.shape[-1])[None], others @ step[:, :, None])
    projected = step - (others.transpose(1, 2) @ coeffs)[:, :, 0]
    wanted, got = (level * step).sum(dim=1), (level * projected).sum(dim=1)
    ratio = wanted / torch.where(got.abs() < 1e-12, torch.full_like(got, 1e-12), got)
    # a projection that reverses or nearly cancels the level keeps its own length rather than exploding
    scale = torch.where(ratio > 0, ratio.clamp(max=MAX_STRETCH), torch.ones_like(ratio))
    return projected * scale[:, None]


def _knots(shifts: np.ndarray) -> np.ndarray:
    """Two chains of shifts from 0 out to the first and to the last slice's shift, LOCK_STEPS steps each: (2, S+1)."""
    return np.stack([np.linspace(0.0, shifts[0], LOCK_STEPS + 1), np.linspace(0.0, shifts[-1], LOCK_STEPS + 1)])


def _interpolate_path(knots: np.ndarray, walked: torch.Tensor, shifts: np.ndarray) -> torch.Tensor:
    """The latents at `shifts`, piecewise linear between the knots of both chains (joined at shift 0)."""
    order = np.concatenate([knots[0][::-1], knots[1][1:]])
    points = torch.cat([walked[0].flip(0), walked[1, 1:]])
    if order[0] > order[-1]:
        order, points = order[::-1].copy(), points.flip(0)
    keep = np.concatenate([[True], np.diff(order) > 0])  # a chain of length 0 repeats shift 0
    order, points = order[keep], points[torch.as_tensor(keep)]
    position = np.interp(shifts, order, np.arange(len(order), dtype=np.float64))
    below = np.clip(np.floor(position).astype(int), 0, len(order) - 1)
    above = np.minimum(below + 1, len(order) - 1)
    frac = torch.as_tensor(position - below, dtype=torch.float32)[:, None]
    return points[below] * (1 - frac) + points[above] * frac


def locked_latents(
    model: VolumeModel, probe: Probe, base: torch.Tensor, direction: torch.Tensor, shifts: np.ndarray, progress: Progress
) -> torch.Tensor:
    """The factor-locked path through the shifts: two chains from the base latent (towards the first and the last
    slice) integrated together in LOCK_STEPS Euler steps, each step projected off the other factors' gradients; the
    slices lie on the piecewise-linear path between the steps (a Jacobian per slice would cost N backward passes)."""
    level = level_index(probe)
    rows = [level] + [i for i in range(probe.net.n_factors) if i != level]
    knots = _knots(shifts)
    current = torch.stack([base, base])
    walked = [current]
    for i in range(1, LOCK_STEPS + 1):
        step = torch.as_tensor(knots[:, i] - knots[:, i - 1], dtype=torch.float32)[:, None] * direction[None]
        current = current + locked_step(_factor_jacobians(model, probe, current, rows), step)
        walked.append(current)
        progress(i / LOCK_STEPS)
    return _interpolate_path(knots, torch.stack(walked, dim=1), shifts).detach()



def _no_progress(_: float) -> None:
    return None


@dataclass(frozen=True)
class VolumeRequest:
    """What to build: the base latent (a seed's, or a given one), the set and its direction, N and the path."""

    set_id: str
    directions: torch.Tensor  # (K, latent_dim) unit rows
    seed: int = 0
    latent: torch.Tensor | None = None
    direction: int | None = None
    slices: int = DEFAULT_SLICES
    path: str = "straight"
    consensus: Mapping[int, str | None] | None = None  # direction -> the annotators' consensus term
    scorecard: Scorecard | None = None
    note: str | None = None  # where a given latent came from (e.g. an encoded slice), first of the volume's notes


def _base_latent(request: VolumeRequest, latent_dim: int) -> torch.Tensor:
    if request.latent is None:
        return latent_from_seed(request.seed, latent_dim)
    latent = request.latent.detach().to("cpu", torch.float32).reshape(-1)
    if latent.numel() != latent_dim or not torch.isfinite(latent).all():
        raise InvalidInputError(f"the latent must hold {latent_dim} finite values (this model's), got {request.latent.numel()}")
    return latent


def _shift_plan(
    model: VolumeModel, probe: Probe | None, base: torch.Tensor, direction: torch.Tensor, slices: int
) -> tuple[np.ndarray, tuple[float, float] | None, float]:
    """Shifts per slice, the levels aimed at and the slice spacing (mm) the level range implies."""
    if probe is None:
        shifts = np.linspace(-FALLBACK_EXTENT, FALLBACK_EXTENT, slices)
        return shifts, None, MM_PER_Z_UNIT * (LEVEL_RANGE[1] - LEVEL_RANGE[0]) / (slices - 1)
    first, last, targets = search_shift_range(model, probe, base, direction)
    covered = max(abs(targets[1] - targets[0]), 1e-3)  # a direction that barely moves the level: a thin slab
    return np.linspace(first, last, slices), targets, MM_PER_Z_UNIT * covered / (slices - 1)


def build_volume(
    model: VolumeModel, request: VolumeRequest, probe: Probe | None = None, progress: Progress = _no_progress
) -> Volume:
    """Render `request.slices` slices along the set's slice-level direction, apex first (research only)."""
    slices, path = check_slices(request.slices), check_path(request.path)
    if path == "locked" and probe is None:
        raise InvalidInputError("path 'locked' needs the phantom probe (models/_phantom-probe) to hold the other factors")
    index, source = slice_direction(request.set_id, int(request.directions.shape[0]), request.direction,
                                    request.consensus, request.scorecard)
    direction = request.directions[index].to(torch.float32)
    direction = direction / direction.norm()
    base = _base_latent(request, model.latent_dim)
    shifts, targets, spacing = _shift_plan(model, probe, base, direction, slices)
    progress(0.1)
    if path == "locked":
        assert probe is not None
        latents = locked_latents(model, probe, base, direction, shifts, lambda f: progress(0.1 + 0.8 * f))
    else:
        latents = straight_latents(base, direction, shifts)
    images = render_unit(model, latents)
    progress(1.0)
    notes = [request.note] if request.note else []
    if probe is None:
        notes.append(f"no probe: shifts fixed at +-{FALLBACK_EXTENT:g}, spacing assumes the full range")
    return Volume(
        images=images, latents=latents, shifts=[float(s) for s in shifts], direction=index, direction_source=source,
        set_id=request.set_id, path=path, hu_range=model.hu_range, slice_spacing_mm=float(spacing),
        pixel_spacing_mm=pixel_spacing_mm(model.image_size), level_targets=targets, notes=notes,
    )


def reformat(volume: Volume, plane: str, index: int | None = None) -> np.ndarray:
    """One plane of the stack in [-1, 1]: axial (H, W) at a slice; coronal (N', W) at a row; sagittal (N', H) at a
    column; N' resamples the slice axis so that a pixel is square (slice and pixel spacing differ)."""
    n, h, w = volume.images.shape
    limits = {"axial": n, "coronal": h, "sagittal": w}
    if plane not in limits:
        raise InvalidInputError(f"plane {plane!r} must be one of: axial, coronal, sagittal")
    index = limits[plane] // 2 if index is None else index
    if isinstance(index, bool) or not 0 <= index < limits[plane]:
        raise InvalidInputError(f"index {index!r} is out of range for the {plane} plane: 0..{limits[plane] - 1}")
    if plane == "axial":
        return volume.images[index]
    section = volume.images[:, index, :] if plane == "coronal" else volume.images[:, :, index]
    rows = max(2, round((n - 1) * volume.slice_spacing_mm / volume.pixel_spacing_mm) + 1)
    positions = np.linspace(0.0, n - 1, rows)
    below = np.floor(positions).astype(int)
    above = np.minimum(below + 1, n - 1)
    frac = (positions - below)[:, None].astype(np.float32)
    return np.asarray(section[below] * (1 - frac) + section[above] * frac, dtype=np.float32)
