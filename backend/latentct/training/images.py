"""Pictures of a run: sample grids (CT slices through a display window) and the loss curves, as PNG files."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from latentct.core.fsutil import atomic_write_bytes
from latentct.core.hu import unit_to_hu, window_to_uint8

# A wide window shows lung (dark), soft tissue (grey) and bone (white) at once: HU -1000..1000.
GRID_WINDOW = {"width": 2000.0, "level": 0.0}
# quality records (event "quality" in metrics.jsonl) drawn beside the losses
QUALITY_PANELS = ("frechet_probe", "factor_distance_mean")


def image_grid(images: torch.Tensor, columns: int = 8, pad_px: int = 2) -> np.ndarray:
    """images [B, 1, H, W] in [-1, 1] -> one uint8 [rows * (H + pad), columns * (W + pad)] mosaic."""
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must have shape [B, 1, H, W], got {list(images.shape)}")
    hu = unit_to_hu(images.detach().float().cpu().numpy()[:, 0])
    tiles = window_to_uint8(hu, **GRID_WINDOW)
    count, height, width = tiles.shape
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (height + pad_px) + pad_px, columns * (width + pad_px) + pad_px), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        top, left = pad_px + r * (height + pad_px), pad_px + c * (width + pad_px)
        grid[top : top + height, left : left + width] = tile
    return grid


def save_grid_png(images: torch.Tensor, path: Path, columns: int = 8) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(image_grid(images, columns)).save(buffer, format="PNG", optimize=True)
    return atomic_write_bytes(path, buffer.getvalue())


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (a torn last line from a crash is skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def save_curves_png(metrics_path: Path, out_path: Path, keys: tuple[str, ...] | list[str]) -> Path | None:
    """Plot `keys` of the step records of metrics.jsonl against the step, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    all_records = read_metrics(metrics_path)
    records = [r for r in all_records if r.get("event") == "step"]
    quality = [r for r in all_records if r.get("event") == "quality"]
    present = [k for k in keys if any(k in r for r in records)]
    quality_panels = [k for k in QUALITY_PANELS if any(k in r for r in quality)]
    if not records or not present:
        return None
    panels = len(present) + len(quality_panels)
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.0), squeeze=False)
    for ax, key in zip(axes[0], present, strict=False):
        points = [(r["step"], r[key]) for r in records if key in r]
        ax.plot([p[0] for p in points], [p[1] for p in points], lw=1.2)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax, key in zip(axes[0][len(present):], quality_panels, strict=True):
        for series, label in ((key, "saved generator"), (f"trained_{key}", "trained G (no average)")):
            points = [(r["step"], r[series]) for r in quality if series in r]
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], lw=1.2, marker=".", label=label)
        ax.set_title(f"{key} (quality, lower is better)", fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if any(f"trained_{key}" in r for r in quality):
            ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return atomic_write_bytes(out_path, buffer.getvalue())
