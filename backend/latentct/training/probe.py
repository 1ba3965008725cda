"""Training the phantom probe: a factor regressor on phantom slices, reported by its held-out R^2 and MAE per factor."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from latentct.artifacts.probe import save_probe
from latentct.core.device import resolve_device
from latentct.core.errors import DatasetError, InvalidInputError
from latentct.core.provenance import provenance
from latentct.nets.probe import PhantomProbe
from latentct.training.data import TrainingData, open_split
from latentct.training.runtime import torch_threads


@dataclass
class ProbeConfig:
    """Everything that decides a probe; recorded in probe.json."""

    epochs: int = 12
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 16
    feature_dim: int = 128
    seed: int = 0
    device: str = "auto"
    threads: int = 0

    def validate(self) -> ProbeConfig:
        for name in ("epochs", "batch_size", "width", "feature_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.lr > 0 or not self.weight_decay >= 0:
            raise InvalidInputError(f"lr must be > 0 and weight_decay >= 0, got {self.lr!r} and {self.weight_decay!r}")
        return self


def r2_scores(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column: 1 - SS_res / SS_tot (1 is perfect, 0 is predicting the mean)."""
    ss_res = ((pred - target) ** 2).sum(axis=0)
    ss_tot = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 1e-12, 1.0 - ss_res / np.where(ss_tot > 1e-12, ss_tot, 1.0), np.nan)  # nan: constant factor


def _standardiser(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = targets.mean(axis=0), targets.std(axis=0)
    return mean, np.where(std > 1e-8, std, 1.0)  # a constant factor keeps unit scale instead of dividing by zero


@torch.no_grad()
def _predict(net: PhantomProbe, images: torch.Tensor, device: torch.device, batch_size: int = 256) -> np.ndarray:
    net.eval()
    out = [net(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


def fit_probe(
    train_images: torch.Tensor,
    train_factors: np.ndarray,
    test_images: torch.Tensor,
    test_factors: np.ndarray,
    factor_names: list[str],
    config: ProbeConfig,
    progress: bool = True,
) -> tuple[PhantomProbe, dict[str, Any]]:
    """Train a PhantomProbe on images [N, 1, H, W] in [-1, 1] and factors [N, F] (own units); evaluate on the test set.

    Returns the net (eval mode, on the CPU) and the meta save_probe needs: factor names and scales and test metrics.
    """
    config.validate()
    if train_images.dim() != 4 or train_images.shape[1] != 1 or train_images.shape[-1] != train_images.shape[-2]:
        raise InvalidInputError(f"train_images must have shape [N, 1, H, H], got {list(train_images.shape)}")
    if train_factors.shape != (len(train_images), len(factor_names)):
        expected = [len(train_images), len(factor_names)]
        raise InvalidInputError(f"train_factors must have shape {expected}, got {list(train_factors.shape)}")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    mean, std = _standardiser(train_factors)
    targets = torch.from_numpy((train_factors - mean) / std).float()
    net = PhantomProbe(int(train_images.shape[-1]), config.width, len(factor_names), config.feature_dim).to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(len(train_images) // config.batch_size, 1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=config.epochs * steps_per_epoch)
    for epoch in range(config.epochs):
        net.train()
        order = torch.randperm(len(train_images), generator=rng)
        bar = tqdm(range(steps_per_epoch), desc=f"probe epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for step in bar:
            idx = order[step * config.batch_size : (step + 1) * config.batch_size]
            loss = F.smooth_l1_loss(net(train_images[idx].to(device)), targets[idx].to(device), beta=0.5)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            bar.set_postfix(loss=f"{loss.item():.4f}")
    predicted = _predict(net, test_images, device) * std + mean
    r2, mae = r2_scores(predicted, test_factors), np.abs(predicted - test_factors).mean(axis=0)
    meta = {
        "factor_names": list(factor_names),
        "factor_mean": [float(v) for v in mean],
        "factor_std": [float(v) for v in std],
        "metrics": {
            "test_r2": {name: (round(float(v), 4) if np.isfinite(v) else None) for name, v in zip(factor_names, r2, strict=True)},
            "test_mae": {name: float(f"{v:.4g}") for name, v in zip(factor_names, mae, strict=True)},
            "test_r2_mean": round(float(np.nanmean(r2)), 4) if np.isfinite(r2).any() else None,
            "n_train": len(train_images),
            "n_test": len(test_images),
        },
        "training": asdict(config),
    }
    return net.cpu().eval(), meta


# What the probe is trained to read where it differs from the dataset's column: a slice outside the breast levels
# shows no breast, so the patient's breast size there is invisible noise to a regressor (held-out R^2 0.14).
TARGET_NOTES = {"breast_size": "visible breast size: breast_size x breast_profile(z_position), 0 outside z 0.3..0.85"}


def probe_targets(factors: np.ndarray, names: list[str]) -> np.ndarray:
    """The dataset's factor matrix [N, F] with breast_size replaced by the breast size the slice shows."""
    from latentct.data.phantom import visible_breast_size

    targets = factors.copy()
    if "breast_size" in names and "z_position" in names:
        b, z = names.index("breast_size"), names.index("z_position")
        targets[:, b] = visible_breast_size(factors[:, b], factors[:, z])
    return targets


def _load_split(data: TrainingData, names: list[str]) -> tuple[torch.Tensor, np.ndarray]:
    factors = data.factor_matrix(names)
    if factors is None:
        missing = [n for n in names if n not in data.factors]
        raise DatasetError(f"dataset {str(data.path)!r} has no phantom factors {missing}: the probe trains on phantom data only")
    return data.all_images(), probe_targets(factors, names)


def train_probe(
    out: Path | str,
    config: ProbeConfig,
    data_dir: Path | str | None = None,
    samples: int = 6000,
    image_size: int = 128,
    data_seed: int = 1234,
    slices_per_patient: int = 16,
    progress: bool = True,
) -> dict[str, Any]:
    """Train and save a probe in `out`. Without `data_dir` a phantom dataset of about `samples` slices is rendered
    into a temporary folder first (the same generator and distribution the models are trained on). Returns the card.
    """
    from latentct.data.phantom import FACTOR_NAMES

    config.validate()
    if samples < 20 or slices_per_patient < 1:
        raise InvalidInputError(f"samples must be >= 20 and slices_per_patient >= 1, got {samples!r}, {slices_per_patient!r}")
    names = list(FACTOR_NAMES)
    started = time.time()
    with torch_threads(config.threads), tempfile.TemporaryDirectory(prefix="latentct-probe-") as tmp:
        data_info: dict[str, Any]
        if data_dir is None:
            from latentct.data.phantom import generate_dataset

            patients = max(-(-samples // slices_per_patient), 4)
            data_dir = Path(tmp) / "phantom"
            generate_dataset(data_dir, patients=patients, slices_per_patient=slices_per_patient, size=image_size,
                             seed=data_seed, progress=progress)
            data_info = {"source": "phantom (rendered for this probe)", "patients": patients,
                         "slices_per_patient": slices_per_patient, "size": image_size, "seed": data_seed}
        else:
            data_info = {"path": str(Path(data_dir).resolve())}
        train, test = open_split(data_dir, "train"), open_split(data_dir, "test")
        data_info.update({k: train.meta.get(k) for k in ("seed", "counts") if k in train.meta})
        train_images, train_factors = _load_split(train, names)
        test_images, test_factors = _load_split(test, names)
        net, meta = fit_probe(train_images, train_factors, test_images, test_factors, names, config, progress)
    meta["data"] = data_info
    meta["targets"] = {name: TARGET_NOTES.get(name, "the dataset's column") for name in names}
    meta["provenance"] = provenance({"seconds": round(time.time() - started, 1)})
    return save_probe(out, net, meta)
