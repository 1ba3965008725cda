"""Export a direction set for people: one GIF per direction (seeds side by side, forth and back), a contact sheet
PNG of every direction, and a markdown report of the set's metrics, its evaluation and (optionally) its labels."""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from latentct.artifacts import DirectionSet, load_direction_set
from latentct.artifacts.directions import evaluation_paths, load_direction_set_evaluation
from latentct.core.checks import check_range
from latentct.core.device import resolve_device
from latentct.core.errors import InvalidInputError, NotFoundError
from latentct.core.fsutil import atomic_directory
from latentct.core.hu import unit_to_hu, window_to_uint8
from latentct.core.latents import latents_from_seeds
from latentct.discovery.common import generate, load_for_discovery
from latentct.discovery.evaluate import verdict_line

# The API's presets (api.md): width, level in HU.
WINDOWS: dict[str, tuple[float, float]] = {"lung": (1500.0, -600.0), "mediastinum": (350.0, 50.0), "bone": (2000.0, 500.0)}
HEADER_PX = 14


@dataclass
class ExportConfig:
    seeds: int = 6
    first_seed: int = 0
    extent: float = 6.0
    steps: int = 9
    window: str = "full"
    fps: int = 6
    sheet_px: int = 64  # thumbnail size in the contact sheet

    def check(self) -> ExportConfig:
        check_range("seeds", self.seeds, 1, 16)
        check_range("steps", self.steps, 2, 64)
        check_range("extent", self.extent, 0, 30, low_open=True)
        check_range("fps", self.fps, 1, 30)
        check_range("sheet_px", self.sheet_px, 16, 512)
        parse_window(self.window, (-1000.0, 2000.0))
        return self


def parse_window(window: str, hu_range: tuple[float, float]) -> tuple[float, float]:
    """'full' (the model's HU range), a preset name, or 'W,L' in HU -> (width, level)."""
    if window == "full":
        return hu_range[1] - hu_range[0], (hu_range[0] + hu_range[1]) / 2
    if window in WINDOWS:
        return WINDOWS[window]
    try:
        width, level = (float(v) for v in window.split(","))
    except ValueError:
        raise InvalidInputError(f"window {window!r} is not allowed; use full, {', '.join(WINDOWS)} or 'W,L' in HU") from None
    if not (np.isfinite(width) and np.isfinite(level) and width > 0):
        raise InvalidInputError(f"window {window!r} needs a finite width > 0 and a finite level")
    return width, level


def to_uint8(images: torch.Tensor, hu_range: tuple[float, float], window: tuple[float, float]) -> np.ndarray:
    """[..., 1, H, W] in [-1, 1] -> uint8 [..., H, W] through the HU window."""
    return window_to_uint8(unit_to_hu(images[..., 0, :, :], hu_range), *window)


def traversal_frames(
    generator: torch.nn.Module, direction: torch.Tensor, latents: torch.Tensor, shifts: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """[T, S, 1, H, W]: frame t shows every seed moved by shifts[t] along `direction`."""
    seeds, steps = latents.shape[0], shifts.shape[0]
    frames = (latents[None, :, :] + shifts[:, None, None] * direction[None, None, :]).reshape(steps * seeds, -1)
    images = generate(generator, frames, device)  # (T * S, 1, H, W)
    return images.reshape(steps, seeds, *images.shape[1:])


def _strip(frame: np.ndarray, caption: str) -> Image.Image:
    """Seeds side by side [S, H, W] under a caption band."""
    seeds, height, width = frame.shape
    canvas = Image.new("L", (seeds * width, height + HEADER_PX), 0)
    canvas.paste(Image.fromarray(np.concatenate(list(frame), axis=1)), (0, HEADER_PX))
    ImageDraw.Draw(canvas).text((3, 1), caption, fill=255)
    return canvas


def write_gif(path: Path, frames: np.ndarray, shifts: list[float], label: str, fps: int) -> None:
    """frames [T, S, H, W] uint8 -> an animated GIF going forth and back, looping forever."""
    order = list(range(len(shifts))) + list(range(len(shifts) - 2, 0, -1))
    images = [_strip(frames[t], f"{label}  shift {shifts[t]:+.1f}") for t in order]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0, optimize=False)


def contact_sheet(rows: list[np.ndarray], labels: list[str], shifts: list[float], thumb_px: int) -> Image.Image:
    """One row per direction [T, H, W] (one seed), a label column on the left and the shifts on top."""
    label_px = 150
    steps = len(shifts)
    sheet = Image.new("L", (label_px + steps * thumb_px, HEADER_PX + len(rows) * thumb_px), 0)
    draw = ImageDraw.Draw(sheet)
    for t, shift in enumerate(shifts):
        draw.text((label_px + t * thumb_px + 2, 1), f"{shift:+.1f}", fill=255)
    for k, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = HEADER_PX + k * thumb_px
        draw.text((2, y + thumb_px // 2 - 6), label, fill=255)
        for t in range(steps):
            thumb = Image.fromarray(row[t]).resize((thumb_px, thumb_px), Image.Resampling.LANCZOS)
            sheet.paste(thumb, (label_px + t * thumb_px, y))
    return sheet


def label_consensus(labels_file: Path | None, model_id: str, set_id: str) -> dict[int, dict[str, Any]]:
    """Most frequent current term per direction from a `latentct labels export --format json` file (optional)."""
    if labels_file is None:
        return {}
    try:
        labels = json.loads(Path(labels_file).read_text(encoding="utf-8"))["labels"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"labels file {str(labels_file)!r} is not a labels JSON export ({exc})") from None
    terms: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for label in labels:
        if label.get("model") == model_id and label.get("set") == set_id and label.get("current", True):
            terms[int(label["direction"])][str(label.get("term"))] += 1
    return {
        k: {
            "term": c.most_common(1)[0][0],
            "share": round(c.most_common(1)[0][1] / sum(c.values()), 3),
            "n_labels": sum(c.values()),
        }
        for k, c in terms.items()
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def report_markdown(
    model_id: str,
    set_meta: dict[str, Any],
    evaluation: dict[str, Any] | None,
    consensus: dict[int, dict[str, Any]],
    config: ExportConfig,
) -> str:
    """report.md: the set and how it was traversed, its evaluation (when there is one), then one row per direction."""
    lines = _header_lines(model_id, set_meta, config)
    if evaluation is not None:
        lines += _evaluation_lines(evaluation, set_meta["id"])
    else:
        lines += ["_Not evaluated yet: run `latentct evaluate`._", ""]
    lines += _direction_lines(set_meta, consensus)
    return "\n".join(lines) + "\n"


def _header_lines(model_id: str, set_meta: dict[str, Any], config: ExportConfig) -> list[str]:
    set_id, count = set_meta["id"], set_meta["count"]
    return [
        f"# {model_id} / {set_id}",
        "",
        f"Method **{set_meta.get('method')}**, K = {count}, params `{json.dumps(set_meta.get('params', {}), sort_keys=True)}`.",
        f"Set metrics: `{json.dumps(set_meta.get('metrics', {}), sort_keys=True)}`.",
        f"Traversals: shifts -{config.extent}..+{config.extent} in {config.steps} steps, seeds "
        f"{config.first_seed}..{config.first_seed + config.seeds - 1}, window {config.window}.",
        "Research only, not for clinical use.",
        "",
        "![contact sheet](contact_sheet.png)",
        "",
    ]


def _evaluation_lines(evaluation: dict[str, Any], set_id: str) -> list[str]:
    """The verdict, the score table, the factor table, realism and the heatmap."""
    lines = [
        "## Evaluation against the phantom factors",
        "",
        *_verdict_lines(evaluation.get("verdict")),
        "| score | set | random (one set) | random sets: mean ± sd | z |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in evaluation["comparison"].items():
        spread = f"{_fmt(row['random_mean'])} ± {_fmt(row['random_sd'])}" if "random_mean" in row else "–"
        lines.append(f"| {name} | {_fmt(row['set'])} | {_fmt(row['random'])} | {spread} | {_fmt(row.get('z'))} |")
    lines += ["", *_factor_lines(evaluation)]
    realism = evaluation["realism"]
    return [
        *lines,
        "",
        f"Realism (Frechet distance in probe features to prior samples): centre {realism['fd_centre']:.3f}, "
        f"ends of this set {realism['set']['fd_end']:.3f}, ends of random {realism['random']['fd_end']:.3f}.",
        "",
        f"![alignment heatmap]({set_id}.eval.png)",
        "",
    ]


def _tracked(row: dict[str, Any]) -> str:
    return "cleanly" if row.get("tracked_cleanly") else ("yes" if row["tracked"] else "no")


def _factor_lines(evaluation: dict[str, Any]) -> list[str]:
    """Per factor the set's direction for it beside what the random baseline's direction does."""
    lines = [
        "| factor | direction | alignment | effect (SD) | specificity | tracked | random: specificity, tracked |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = evaluation["random_baseline"]["per_factor"]
    for name, row in evaluation["set"]["per_factor"].items():
        lines.append(
            f"| {name} | {row['direction']} | {row['alignment']:+.3f} ± {row.get('alignment_se') or 0:.3f} | "
            f"{row['effect_sd']:.2f} | {row.get('specificity', 0):.2f} | {_tracked(row)} | "
            f"{base[name].get('specificity', 0):.2f}, {_tracked(base[name])} |"
        )
    return lines


def _direction_lines(set_meta: dict[str, Any], consensus: dict[int, dict[str, Any]]) -> list[str]:
    """One row per direction: its animation, what it changes (from the evaluation), its own metrics, its label."""
    lines = [
        "## Directions",
        "",
        "Main factor: the factor the direction changes most, in population SDs over the whole traversal.",
        "",
        "| k | animation | main factor | alignment | effect (SD) | specificity | tracks | change (HU) | own metrics | label |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in set_meta.get("directions", []):
        k, m = entry["index"], entry.get("metrics", {})
        own = {key: m[key] for key in ("rca", "eigenvalue", "explained_variance", "trained_norm") if key in m}
        label = consensus.get(k)
        label_text = f"{label['term']} ({label['share']:.0%} of {label['n_labels']})" if label else "–"
        lines.append(
            f"| {k} | ![d{k}](direction_{k:03d}.gif) | {_fmt(m.get('best_factor'))} | {_fmt(m.get('best_factor_alignment'))} | "
            f"{_fmt(m.get('best_factor_effect_sd'))} | {_fmt(m.get('best_factor_specificity'))} | {_fmt(m.get('tracks'))} | "
            f"{_fmt(m.get('change_hu'))} | {_fmt(own or None)} | {label_text} |"
        )
    return lines


def _verdict_lines(verdict: dict[str, Any] | None) -> list[str]:
    """Whether the set beats random sets clearly (evaluations written before the verdict existed have none)."""
    return [] if verdict is None else [f"Verdict: {verdict_line(verdict)}.", ""]


def _current_evaluation(model_dir: Path, direction_set: DirectionSet) -> dict[str, Any] | None:
    """The set's evaluation json, or None when it was never evaluated or the evaluation measured an older version."""
    try:
        evaluation = load_direction_set_evaluation(model_dir, direction_set.id)
    except NotFoundError:
        return None
    return evaluation.to_json() if evaluation.is_of(direction_set.checksum) else None


def export_traversals(
    model_dir: Path | str,
    set_id: str,
    out_dir: Path | str,
    config: ExportConfig,
    device: str = "auto",
    labels_file: Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the GIFs, the contact sheet and report.md into `out_dir` (built under a temporary name, then renamed)."""
    config.check()
    torch_device = resolve_device(device)
    model = load_for_discovery(model_dir, torch_device)
    direction_set = load_direction_set(model.path, set_id, model.card)
    window = parse_window(config.window, model.hu_range)
    consensus = label_consensus(labels_file, model.id, set_id)
    evaluation = _current_evaluation(model.path, direction_set)
    latents = latents_from_seeds(model.latent_dim, list(range(config.first_seed, config.first_seed + config.seeds)))
    shifts = torch.linspace(-config.extent, config.extent, config.steps)
    shift_values = [round(float(s), 3) for s in shifts]
    rows, labels = [], []
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        for k, direction in enumerate(direction_set.directions):
            images = traversal_frames(model.fused_generator, direction, latents, shifts, torch_device)
            frames = to_uint8(images, model.hu_range, window)
            metrics = direction_set.card.direction_metrics()[k]
            # a cleanly tracked factor as is; otherwise the factor it changes most, in parentheses
            factor = metrics.get("tracks") or (f"({metrics['best_factor']})" if metrics.get("best_factor") else "")
            label = f"d{k} {factor}".strip()
            write_gif(tmp / f"direction_{k:03d}.gif", frames, shift_values, label, config.fps)
            rows.append(frames[:, 0])
            labels.append(label)
        contact_sheet(rows, labels, shift_values, config.sheet_px).save(tmp / "contact_sheet.png", optimize=True)
        if evaluation is not None:
            _, png_path = evaluation_paths(model.path, set_id)
            if png_path.is_file():
                (tmp / png_path.name).write_bytes(png_path.read_bytes())
        (tmp / "report.md").write_text(
            report_markdown(model.id, direction_set.meta, evaluation, consensus, config), encoding="utf-8"
        )
    return Path(out_dir)
