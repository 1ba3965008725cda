"""Coronal reformats side by side: straight and locked volumes of the demo models beside a real phantom volume.

Writes docs/images/volumes_coronal.png (synthetic images, research only, not for clinical use).

Usage: .venv/bin/python scripts/volume_figure.py [--set supervised] [--out docs/images/volumes_coronal.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from latentct.artifacts import load_direction_set, load_model
from latentct.artifacts.directions import load_scorecard
from latentct.artifacts.probe import load_probe
from latentct.core.fsutil import atomic_save
from latentct.rendering.volume_metrics import real_phantom_stack
from latentct.rendering.volumes import Volume, VolumeModel, VolumeRequest, build_volume, reformat
from latentct.rendering.windows import parse_window, unit_to_grey

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = ("phantom-dcgan", "phantom-vae")
LABEL_PX = 14


def coronal(volume: Volume) -> np.ndarray:
    return unit_to_grey(reformat(volume, "coronal")[None], volume.hu_range, parse_window("lung"))[0]


def labelled(grey: np.ndarray, text: str) -> Image.Image:
    tile = Image.new("L", (grey.shape[1], grey.shape[0] + LABEL_PX), 0)
    tile.paste(Image.fromarray(grey), (0, LABEL_PX))
    ImageDraw.Draw(tile).text((2, 1), text, fill=255)
    return tile


def tiles(models_dir: Path, set_id: str) -> list[Image.Image]:
    probe = load_probe(models_dir / "_phantom-probe")
    out: list[Image.Image] = []
    for model_id in MODELS:
        loaded = load_model(models_dir / model_id, components=("generator",))
        vmodel = VolumeModel.of_loaded(loaded)
        directions = load_direction_set(models_dir / model_id, set_id).directions
        for path in ("straight", "locked"):
            request = VolumeRequest(set_id, directions, path=path, scorecard=load_scorecard(models_dir / model_id))
            volume = build_volume(vmodel, request, probe)
            out.append(labelled(coronal(volume), f"{model_id.removeprefix('phantom-')} {path}"))
            if model_id == MODELS[0] and path == "straight":
                real = Volume(**{**volume.__dict__, "images": real_phantom_stack(volume.count, loaded.image_size,
                                 volume.level_targets or (0.0, 1.0), volume.hu_range)})
                out.insert(0, labelled(coronal(real), "real phantom"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--set", dest="set_id", default="supervised")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images" / "volumes_coronal.png")
    args = parser.parse_args()
    images = tiles(args.models_dir, args.set_id)
    height = max(i.height for i in images)
    sheet = Image.new("L", (sum(i.width + 4 for i in images), height + LABEL_PX), 0)
    x = 0
    for image in images:
        sheet.paste(image, (x, 0))
        x += image.width + 4
    ImageDraw.Draw(sheet).text((2, height + 1), "synthetic, research only, not for clinical use", fill=200)
    atomic_save(args.out, lambda tmp: sheet.save(tmp, format="PNG"), suffix=".png")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
