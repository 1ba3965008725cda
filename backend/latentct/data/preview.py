"""Contact sheet of a dataset: slices with their factors as captions, and a histogram of every factor column."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from latentct.core.errors import InvalidInputError
from latentct.core.fsutil import atomic_save
from latentct.core.hu import unit_to_hu, window_to_uint8

# A wide window that shows lung vessels and soft tissue at once; bone is white.
PREVIEW_WINDOW = (1600.0, -350.0)  # width, level in HU
_SHORT = {
    "z_position": "z",
    "rotation_deg": "rot",
    "breast_size": "breast",
    "fat_thickness": "fat",
    "body_width": "width",
    "y_offset": "dy",
    "x_offset": "dx",
    "noise_hu": "noise",
    "patient_id": "pt",
}


def _caption(row: dict[str, object]) -> str:
    parts = []
    for name, value in row.items():
        label = _SHORT.get(name, name)
        if isinstance(value, float):
            text = f"{value:.0f}" if name == "patient_id" or abs(value) >= 100 else f"{value:.2g}"
        else:
            text = str(value)
            text = text if len(text) <= 12 else "…" + text[-10:]
        parts.append(f"{label}={text}")
    lines, line = [], ""
    for part in parts:  # wrap at about 30 characters
        if line and len(line) + len(part) > 30:
            lines.append(line)
            line = part
        else:
            line = f"{line} {part}".strip()
    lines.append(line)
    return "\n".join(lines)


def pick_indices(factors: dict[str, np.ndarray], n_total: int, count: int) -> np.ndarray:
    """Spread the sheet over the dataset; for the phantom, ordered by z so levels read apex -> abdomen."""
    count = min(count, n_total)
    picks = np.unique(np.linspace(0, n_total - 1, count).round().astype(int))
    if "z_position" in factors and factors["z_position"].dtype.kind == "f":
        order = np.argsort(factors["z_position"], kind="stable")
        picks = order[np.unique(np.linspace(0, n_total - 1, count).round().astype(int))]
    return picks


def draw_preview(dataset_dir: Path | str, out_png: Path | str, count: int = 24, columns: int = 6) -> Path:
    """Write the contact sheet PNG for `dataset_dir` to `out_png` (atomically) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentct.data.dataset import SliceDataset

    if not isinstance(count, int) or not 1 <= count <= 400:
        raise InvalidInputError(f"count {count!r} must be an integer between 1 and 400")
    if not str(out_png).lower().endswith(".png"):
        raise InvalidInputError(f"output {str(out_png)!r} must be a .png file")
    ds = SliceDataset(dataset_dir, split="all")
    picks = pick_indices(ds.factors, len(ds), count)
    columns = min(columns, len(picks))
    rows = math.ceil(len(picks) / columns)
    numeric = [k for k, v in ds.factors.items() if v.dtype.kind == "f" and k != "patient_id"]
    hist_cols = max(1, min(len(numeric), 4))
    hist_rows = math.ceil(len(numeric) / hist_cols) if numeric else 0
    fig = plt.figure(figsize=(2.1 * columns, 2.45 * rows + 1.9 * hist_rows + 0.6), dpi=90)
    grid = fig.add_gridspec(rows + hist_rows, columns * hist_cols, height_ratios=[2.45] * rows + [1.9] * hist_rows)
    width, level = PREVIEW_WINDOW
    for i, index in enumerate(picks):
        ax = fig.add_subplot(grid[i // columns, (i % columns) * hist_cols : (i % columns + 1) * hist_cols])
        hu = unit_to_hu(np.asarray(ds.slices[index], dtype=np.float32), ds.meta["hu_range"])
        ax.imshow(window_to_uint8(hu, width, level), cmap="gray", vmin=0, vmax=255, interpolation="lanczos")
        row = {k: ds.factors[k][index].item() for k in ds.factors}
        ax.set_title(_caption(row), fontsize=6.5, family="monospace", pad=2)
        ax.axis("off")
    for j, name in enumerate(numeric):
        r, c = rows + j // hist_cols, j % hist_cols
        ax = fig.add_subplot(grid[r, c * columns : (c + 1) * columns])
        ax.hist(ds.factors[name], bins=30, color="#4a6fa5")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    meta = ds.meta
    fig.suptitle(
        f"{Path(dataset_dir).name}: {meta['source']}, {meta['counts']['slices']} slices of "
        f"{meta['counts']['patients']} patients, {ds.image_size} px; window W{width:.0f} L{level:.0f} HU",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    atomic_save(out_png, lambda tmp: fig.savefig(tmp, format="png"), suffix=".png")
    plt.close(fig)
    return Path(out_png)
