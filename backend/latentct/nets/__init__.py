"""Pure PyTorch networks; `build_*` rebuild a component of a model from the `arch` of its manifest."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from latentct.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from latentct.nets.vae import ResNetVAE, VAEDecoder, VAEEncoder

# kind -> component -> class. The manifest's `arch` holds the union of the constructor arguments.
COMPONENTS: dict[str, dict[str, type[nn.Module]]] = {
    "gan": {"generator": DCGANGenerator, "discriminator": DCGANDiscriminator},
    "vae": {"generator": VAEDecoder, "encoder": VAEEncoder},
}


def arch_keys(kind: str) -> set[str]:
    """Every constructor argument a model of `kind` may record in its `arch`."""
    keys: set[str] = set()
    for cls in COMPONENTS[kind].values():
        keys |= {name for name in inspect.signature(cls.__init__).parameters if name != "self"}
    return keys


def check_arch(kind: str, arch: dict[str, Any]) -> None:
    """Raise ValueError naming an unknown kind or arch key."""
    if kind not in COMPONENTS:
        raise ValueError(f"kind must be one of {sorted(COMPONENTS)}, got {kind!r}")
    unknown = set(arch) - arch_keys(kind)
    if unknown:
        raise ValueError(f"unknown arch key(s) {sorted(unknown)} for a {kind}; allowed: {sorted(arch_keys(kind))}")


def build_component(kind: str, component: str, arch: dict[str, Any]) -> nn.Module:
    """`Class(**arch)` for one component, passing only the arguments that class takes."""
    check_arch(kind, arch)
    if component not in COMPONENTS[kind]:
        raise ValueError(f"a {kind} has no {component!r}; it has {sorted(COMPONENTS[kind])}")
    cls = COMPONENTS[kind][component]
    accepted = set(inspect.signature(cls.__init__).parameters)
    return cls(**{k: v for k, v in arch.items() if k in accepted})


__all__ = [
    "COMPONENTS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "ResNetVAE",
    "VAEDecoder",
    "VAEEncoder",
    "build_component",
    "check_arch",
]
