"""Import of the paper's own torch checkpoints (the reference repository's key layout) into LatentCT model folders.

This is the one place that calls `torch.load`, and only with `weights_only=True` (no code is unpickled), only from
the explicit `latentct models import-legacy` command. Layouts, from the reference code (julschoen/Latent-Space-
Exploration-CT): the GAN checkpoint is a dict with `modelG_state_dict` (and `modelD_state_dict`) of an
`nn.Sequential` named `main`, in the same layer order as our `net` / `features` + `head`; the VAE's `decoder.pt`
holds {"state_dict": Decoder.state_dict()} with residual blocks conv1, conv12, conv2 .. conv6 (each conv1, BN1,
conv2, BN2, conv3 = the skip convolution) and the output conv7; its `checkpoint.pt` holds the whole VAE
(`encoder.*`, `decoder.*`), whose encoder has conv1 .. conv5, conv_mu and conv_logvar.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentct.artifacts.cards import ModelCard
from latentct.artifacts.models import save_model
from latentct.core.errors import ArtifactError, InvalidInputError
from latentct.core.fsutil import ensure_writable_dir
from latentct.nets import build_component
from latentct.nets.vae import decoder_channels

_VAE_DECODER_BLOCKS = ["conv1", "conv12", "conv2", "conv3", "conv4", "conv5", "conv6"]
_VAE_ENCODER_BLOCKS = ["conv1", "conv2", "conv3", "conv4", "conv5"]
_RES_PARTS = {"conv1": "conv1", "BN1": "bn1", "conv2": "conv2", "BN2": "bn2", "conv3": "skip"}


def read_legacy_checkpoint(path: Path | str) -> dict[str, Any]:
    """torch.load(weights_only=True): tensors and plain containers only; anything else is refused with one error."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"checkpoint file {str(path)!r} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code, a zip that is not torch's, truncated bytes: all the same to the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"{path}: not a torch checkpoint loadable with weights_only=True ({first[:200]})") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a dict (a state dict or a checkpoint holding one), got {type(data).__name__}")
    return data


def _tensors(state: Any, where: str) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ArtifactError(f"{where}: expected a state dict of tensors")
    return {str(k).removeprefix("module."): v for k, v in state.items()}  # DataParallel prefixes


def _pick(data: dict[str, Any], keys: tuple[str, ...], where: str) -> dict[str, torch.Tensor]:
    for key in keys:
        if key in data:
            return _tensors(data[key], f"{where}[{key!r}]")
    return _tensors(data, where)


# ---------------------------------------------------------------------------------------------------------------
# GAN


def _gan_arch(generator: dict[str, torch.Tensor], where: str) -> dict[str, int]:
    first = generator.get("main.0.weight")
    if first is None or first.dim() != 4:
        raise ArtifactError(f"{where}: no 'main.0.weight' ConvTranspose weight: not the reference DCGAN generator")
    pattern = re.compile(r"main\.(\d+)\.weight")
    transposed = sorted({int(m.group(1)) for k in generator if (m := pattern.fullmatch(k)) and generator[k].dim() == 4})
    latent_dim, top_channels = int(first.shape[0]), int(first.shape[1])
    doublings = len(transposed) - 1  # 4x4 -> image size
    if doublings < 1 or top_channels % (1 << (doublings - 1)):
        raise ArtifactError(f"{where}: {len(transposed)} ConvTranspose weight(s) with {top_channels} channels at 4x4: "
                            "not the reference DCGAN generator (a 1x1 -> 4 -> ... -> image stack)")
    ngf = top_channels >> (doublings - 1)
    return {"latent_dim": latent_dim, "ngf": ngf, "image_size": 4 << doublings}


def _build(kind: str, component: str, arch: dict[str, int], where: str) -> nn.Module:
    try:
        return build_component(kind, component, arch)
    except ValueError as exc:
        raise ArtifactError(f"{where}: inferred architecture {arch} is not buildable: {exc}") from None


def _load_strict(net: nn.Module, state: dict[str, torch.Tensor], where: str) -> nn.Module:
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:3])
        raise ArtifactError(f"{where}: weights do not fit the inferred architecture: {detail[:400]}") from None
    return net


def gan_from_legacy(data: dict[str, Any], where: str, ndf: int | None = None) -> tuple[dict[str, int], dict[str, nn.Module]]:
    """Rebuild our DCGAN generator (and discriminator when the checkpoint has one) from the reference layout."""
    g_state = _pick(data, ("modelG_state_dict", "netG", "generator", "state_dict"), where)
    arch = _gan_arch(g_state, where)
    d_state = _tensors(data["modelD_state_dict"], f"{where}['modelD_state_dict']") if "modelD_state_dict" in data else None
    if d_state is not None and "main.0.weight" in d_state:
        arch["ndf"] = int(d_state["main.0.weight"].shape[0])
    else:
        arch["ndf"] = ndf or arch["ngf"]
    nets: dict[str, nn.Module] = {}
    generator = _build("gan", "generator", arch, where)
    nets["generator"] = _load_strict(generator, {k.replace("main.", "net.", 1): v for k, v in g_state.items()}, where)
    if d_state is not None:
        discriminator = _build("gan", "discriminator", arch, where)
        last = len(discriminator.features)  # type: ignore[arg-type]

        def rename(key: str) -> str:
            index, rest = key.removeprefix("main.").split(".", 1)
            return f"head.{rest}" if int(index) == last else f"features.{index}.{rest}"

        renamed = {rename(k): v for k, v in d_state.items()}
        nets["discriminator"] = _load_strict(discriminator, renamed, f"{where} (discriminator)")
    return arch, nets


# ---------------------------------------------------------------------------------------------------------------
# VAE


def _rename_residual(
    state: dict[str, torch.Tensor], blocks: list[str], prefix: str, extra: dict[str, str]
) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        name, _, rest = key[len(prefix) :].partition(".")
        if name in extra:
            out[f"{extra[name]}.{rest}"] = value
        elif name in blocks:
            part, _, tail = rest.partition(".")
            out[f"blocks.{blocks.index(name)}.{_RES_PARTS.get(part, part)}.{tail}"] = value
        else:
            out[key[len(prefix) :]] = value  # unknown: left for the strict load to name
    return out


def vae_from_legacy(data: dict[str, Any], where: str) -> tuple[dict[str, int], dict[str, nn.Module]]:
    """Rebuild our VAE decoder (and encoder when the checkpoint is the whole VAE) from the reference layout."""
    state = _pick(data, ("state_dict", "decoder", "model_state_dict"), where)
    whole = any(k.startswith("decoder.") for k in state)
    dec_prefix = "decoder." if whole else ""
    decoder_state = _rename_residual(state, _VAE_DECODER_BLOCKS, dec_prefix, {"conv7": "out"})
    first_skip = decoder_state.get("blocks.0.skip.weight")
    if first_skip is None or first_skip.dim() != 4:
        raise ArtifactError(f"{where}: no residual up block 'conv1' with a skip conv: not the reference VAE decoder")
    blocks = len({k.split(".")[1] for k in decoder_state if k.startswith("blocks.")})
    skips = [decoder_state.get(f"blocks.{i}.skip.weight") for i in range(blocks)]
    widths = [int(w.shape[0]) for w in skips if w is not None]
    # the width the decoder was built with: the one whose channel plan reproduces the blocks' output widths
    base = next((b for b in range(1, 2 * widths[-1] + 2) if decoder_channels(b, 2**blocks) == widths), None)
    if base is None:
        raise ArtifactError(f"{where}: residual block widths {widths} match no ResNet-VAE decoder width")
    arch = {"latent_dim": int(first_skip.shape[1]), "base_channels": base, "image_size": 2**blocks}
    nets: dict[str, nn.Module] = {"generator": _build("vae", "generator", arch, where)}
    _load_strict(nets["generator"], decoder_state, where)
    if whole and any(k.startswith("encoder.") for k in state):
        encoder_state = _rename_residual(state, _VAE_ENCODER_BLOCKS, "encoder.", {"conv_mu": "mean", "conv_logvar": "log_var"})
        nets["encoder"] = _load_strict(_build("vae", "encoder", arch, where), encoder_state, f"{where} (encoder)")
    return arch, nets


def import_legacy(kind: str, checkpoint: Path | str, out: Path | str, ndf: int | None = None) -> ModelCard:
    """Convert a reference checkpoint into the model folder `out` (written atomically); returns the manifest."""
    if kind not in ("gan", "vae"):
        raise InvalidInputError(f"kind must be 'gan' or 'vae', got {kind!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InvalidInputError(f"output {str(out)!r} already exists and is not empty; choose another --out")
    where = str(checkpoint)
    data = read_legacy_checkpoint(checkpoint)
    arch, nets = gan_from_legacy(data, where, ndf) if kind == "gan" else vae_from_legacy(data, where)
    for net in nets.values():
        net.eval()
    return _save_atomically(out, kind, arch, nets, Path(checkpoint))


def _save_atomically(out: Path, kind: str, arch: dict[str, int], nets: dict[str, nn.Module], checkpoint: Path) -> ModelCard:
    """Build the folder under its final name inside a hidden staging folder, then rename it into place."""
    ensure_writable_dir(out.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        card = save_model(
            staging / out.name, kind=kind, arch=arch, nets=nets,
            description=f"imported from the paper's reference checkpoint {checkpoint.name}",
            data={"source": "unknown (legacy checkpoint; the paper trained on LIDC-IDRI)"},
            provenance={"imported_from": str(checkpoint.resolve()), "importer": "latentct models import-legacy"},
        )
        os.chmod(staging / out.name, 0o755)  # like a folder made by mkdir, not a private temporary one
        os.replace(staging / out.name, out)  # replaces an empty directory too
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return card
