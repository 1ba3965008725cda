"""Training configuration: the paper's defaults, TOML files with unknown keys rejected, and checks naming a bad value."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomllib

from latentct.core.device import DEVICES
from latentct.core.errors import InvalidInputError


@dataclass
class CommonConfig:
    """Options every generator training shares. Defaults are the paper's."""

    epochs: int = 50
    batch_size: int = 128
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch CPU threads per process; 0 keeps torch's default
    latent_dim: int = 32
    beta1: float = 0.5
    beta2: float = 0.999
    # augmentation: the paper's small random affine (no flips: left and right differ in a thorax)
    augment: bool = True
    aug_rotation_deg: float = 1.0
    aug_scale_min: float = 1.0
    aug_scale_max: float = 1.1
    aug_translate_px: float = 0.0  # random shift of up to this many px in x and y (0: none, as in the paper)
    # training recipe: "paper" (the paper's, as published) or "improved" (the demo models'); see RECIPES
    recipe: str = "paper"
    # arithmetic: "auto" = bfloat16 autocast on CUDA and on CPUs that run it natively (AMX), else float32
    precision: str = "auto"
    # time budget: stop after this many minutes of training (0: none); the run is then checkpointed and finished
    max_minutes: float = 0.0
    # quality tracked during training: Frechet distance and factor distances every N steps (0: only at the end)
    quality_every_steps: int = 0
    quality_track_samples: int = 500
    # bookkeeping
    # memory format: "auto" = channels_last on CUDA, and on CPUs for the VAE only (bench/bench_training.py: there
    # it is about 3x faster, while the DCGAN's transposed convolutions get slower); "on" / "off" force it
    channels_last: str = "auto"
    log_every_steps: int = 20
    checkpoint_every_steps: int = 0  # 0: at the end of epochs only
    # end-of-epoch checkpoints: after the first epoch, then at most this often, always after the last epoch and where a
    # step checkpoint falls on an epoch end; 0: every epoch. A crash loses up to this plus an epoch. The paper-size
    # DCGAN's checkpoint is 1.08 GB (weights and Adam state of both nets), 4 s to write on a 2-core CPU machine; on one
    # H200 an epoch of the phantom is about 0.5 s of training steps, and a run with a checkpoint per epoch spent 135 of
    # its 161 s outside the steps.
    checkpoint_min_interval_s: float = 120.0
    sample_count: int = 64  # images in each epoch's sample grid (fixed latents)
    sample_seed: int = 1234
    # quality measured at the end
    quality_samples: int = 1000
    probe_dir: str = ""  # "" = the shipped probe (models/_phantom-probe); "none" skips the quality metrics


@dataclass
class GANConfig(CommonConfig):
    ngf: int = 128
    ndf: int = 128
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    real_label_min: float = 0.9
    real_label_max: float = 0.999
    instance_noise_sigma: float = 0.1
    instance_noise_until: float = 0.5  # fraction of the epochs over which sigma decays linearly to 0
    loss: str = "bce"  # "bce": the paper's, with smoothed real labels; "hinge" (SNGAN, BigGAN)
    d_norm: str = "batch"  # discriminator normalisation: "batch" (the paper's) or "spectral" (Miyato et al. 2018)
    ema_decay: float = 0.0  # exponential moving average of G's weights (0: none); the EMA generator is saved and served
    augment_fakes: bool = False  # apply the same random augmentation to generated images (DiffAugment-style)
    keep_best: bool = False  # keep the generator with the lowest tracked Frechet distance and save it if it beats the end


@dataclass
class VAEConfig(CommonConfig):
    base_channels: int = 64
    lr: float = 1e-4
    beta1: float = 0.9  # the VAE used Adam's default betas
    kl_beta: float = 0.01


CONFIGS: dict[str, type[CommonConfig]] = {"gan": GANConfig, "vae": VAEConfig}

# Named recipes: option values applied over the defaults, before a TOML file and flags. "paper" is the published
# recipe (the defaults); "improved" is what the demo models are trained with (docs/training.md has the measurements).
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "gan": {
        "paper": {},
        "improved": {"loss": "hinge", "d_norm": "spectral", "ema_decay": 0.999, "augment_fakes": True,
                     "aug_translate_px": 4.0, "instance_noise_sigma": 0.0, "quality_every_steps": 500,
                     "keep_best": True},
    },
    "vae": {
        "paper": {},
        "improved": {"quality_every_steps": 500},
    },
}
PRECISIONS = ("auto", "fp32", "bf16")

_POSITIVE_INTS = {"epochs", "batch_size", "latent_dim", "log_every_steps", "sample_count", "quality_samples", "ngf", "ndf",
                  "base_channels", "quality_track_samples"}
_NON_NEGATIVE_INTS = {"seed", "threads", "checkpoint_every_steps", "sample_seed", "quality_every_steps"}
_POSITIVE_FLOATS = {"lr", "lr_g", "lr_d"}
_UNIT_INTERVAL = {"beta1", "beta2"}  # [0, 1)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Accept a TOML/CLI value for field `name` if its type matches the default's (ints allowed for floats)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InvalidInputError(f"{name} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"{name} must be an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {value!r}")
    return value


def validate(config: CommonConfig) -> CommonConfig:
    """Raise InvalidInputError naming the first impossible value."""
    values = dataclasses.asdict(config)
    for name, value in values.items():
        if name in _POSITIVE_INTS and value < 1:
            raise InvalidInputError(f"{name} must be >= 1, got {value!r}")
        if name in _NON_NEGATIVE_INTS and value < 0:
            raise InvalidInputError(f"{name} must be >= 0, got {value!r}")
        if name in _POSITIVE_FLOATS and not 0 < value < 1:
            raise InvalidInputError(f"{name} (a learning rate) must be in (0, 1), got {value!r}")
        if name in _UNIT_INTERVAL and not 0 <= value < 1:
            raise InvalidInputError(f"{name} must be in [0, 1), got {value!r}")
    if not config.checkpoint_min_interval_s >= 0:
        raise InvalidInputError(f"checkpoint_min_interval_s must be >= 0 seconds, got {config.checkpoint_min_interval_s!r}")
    if config.recipe not in RECIPES["gan"]:
        raise InvalidInputError(f"recipe must be one of {sorted(RECIPES['gan'])}, got {config.recipe!r}")
    if config.precision not in PRECISIONS:
        raise InvalidInputError(f"precision must be one of {list(PRECISIONS)}, got {config.precision!r}")
    if not 0 <= config.max_minutes <= 100_000:
        raise InvalidInputError(f"max_minutes must be in [0, 100000] (0: no time budget), got {config.max_minutes!r}")
    if not 2 <= config.quality_track_samples <= 100_000:
        raise InvalidInputError(f"quality_track_samples must be in [2, 100000], got {config.quality_track_samples!r}")
    if not 0 <= config.aug_translate_px <= 32:
        raise InvalidInputError(f"aug_translate_px must be in [0, 32] px, got {config.aug_translate_px!r}")
    if config.channels_last not in ("auto", "on", "off"):
        raise InvalidInputError(f"channels_last must be 'auto', 'on' or 'off', got {config.channels_last!r}")
    device = config.device
    if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise InvalidInputError(f"device must be one of {list(DEVICES)} or cuda:N, got {device!r}")
    if not 0 <= config.aug_rotation_deg <= 45:
        raise InvalidInputError(f"aug_rotation_deg must be in [0, 45], got {config.aug_rotation_deg!r}")
    if not 0.5 <= config.aug_scale_min <= config.aug_scale_max <= 2.0:
        raise InvalidInputError(
            "aug_scale_min/aug_scale_max must satisfy 0.5 <= min <= max <= 2, "
            f"got {config.aug_scale_min!r}, {config.aug_scale_max!r}"
        )
    if isinstance(config, GANConfig):
        if not 0 < config.real_label_min <= config.real_label_max <= 1:
            raise InvalidInputError(
                "real labels must satisfy 0 < real_label_min <= real_label_max <= 1, "
                f"got {config.real_label_min!r}, {config.real_label_max!r}"
            )
        if config.loss not in ("bce", "hinge"):
            raise InvalidInputError(f"loss must be 'bce' or 'hinge', got {config.loss!r}")
        if config.d_norm not in ("batch", "spectral"):
            raise InvalidInputError(f"d_norm must be 'batch' or 'spectral', got {config.d_norm!r}")
        if not 0 <= config.ema_decay < 1:
            raise InvalidInputError(f"ema_decay must be in [0, 1) (0: no moving average), got {config.ema_decay!r}")
        if config.keep_best and not config.quality_every_steps:
            raise InvalidInputError(
                "keep_best needs quality_every_steps > 0: the best generator is chosen by the tracked Frechet distance"
            )
        if not 0 <= config.instance_noise_sigma <= 2:
            raise InvalidInputError(f"instance_noise_sigma must be in [0, 2], got {config.instance_noise_sigma!r}")
        if not 0 < config.instance_noise_until <= 1:
            until = config.instance_noise_until
            raise InvalidInputError(f"instance_noise_until must be in (0, 1] (a fraction of the epochs), got {until!r}")
    if isinstance(config, VAEConfig) and not config.kl_beta >= 0:
        raise InvalidInputError(f"kl_beta must be >= 0, got {config.kl_beta!r}")
    return config


def apply_values(config: CommonConfig, values: dict[str, Any], source: str) -> CommonConfig:
    """Return `config` with `values` set; an unknown key or a value of the wrong type raises, naming it and `source`."""
    known = {f.name: f for f in fields(config)}
    defaults = dataclasses.asdict(config)
    updates: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise InvalidInputError(f"{source}: unknown option {key!r}; allowed: {', '.join(sorted(known))}")
        try:
            updates[key] = _coerce(key, value, defaults[key])
        except InvalidInputError as exc:
            raise InvalidInputError(f"{source}: {exc}") from None
    return dataclasses.replace(config, **updates)


def read_toml(path: Path) -> dict[str, Any]:
    """A flat TOML file of options (a [train] table is also accepted)."""
    if not path.is_file():
        raise InvalidInputError(f"config file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    if set(data) == {"train"} and isinstance(data["train"], dict):
        data = data["train"]
    nested = [key for key, value in data.items() if isinstance(value, dict)]
    if nested:
        raise InvalidInputError(f"config file {str(path)!r}: unknown table [{nested[0]}]; use flat keys (or one [train] table)")
    return data


def build_config(kind: str, config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> CommonConfig:
    """Defaults, then the TOML file, then command-line overrides; validated."""
    if kind not in CONFIGS:
        raise InvalidInputError(f"kind must be one of {sorted(CONFIGS)}, got {kind!r}")
    overrides = overrides or {}
    file_values = read_toml(Path(config_file)) if config_file is not None else {}
    recipe = overrides.get("recipe", file_values.get("recipe", "paper"))
    if recipe not in RECIPES[kind]:
        raise InvalidInputError(f"recipe must be one of {sorted(RECIPES[kind])}, got {recipe!r}")
    config = apply_values(CONFIGS[kind](), {"recipe": recipe, **RECIPES[kind][recipe]}, f"recipe {recipe!r}")
    if config_file is not None:
        config = apply_values(config, file_values, str(config_file))
    config = apply_values(config, overrides, "command line")
    return validate(config)


def config_from_record(kind: str, record: dict[str, Any], source: str) -> CommonConfig:
    """Rebuild a config from a run's config.json (for --resume)."""
    return validate(apply_values(CONFIGS[kind](), record, source))


def arch_of(kind: str, config: CommonConfig, image_size: int) -> dict[str, Any]:
    """The model's constructor arguments (manifest `arch`)."""
    if isinstance(config, GANConfig):
        arch: dict[str, Any] = {"latent_dim": config.latent_dim, "ngf": config.ngf, "ndf": config.ndf, "image_size": image_size}
        if config.d_norm != "batch":  # recorded only when it differs, so the paper recipe's arch is unchanged
            arch["d_norm"] = config.d_norm
        return arch
    assert isinstance(config, VAEConfig)
    return {"latent_dim": config.latent_dim, "base_channels": config.base_channels, "image_size": image_size}


__all__ = ["CONFIGS", "PRECISIONS", "RECIPES", "CommonConfig", "GANConfig", "VAEConfig", "apply_values", "arch_of",
           "build_config", "validate"]
