"""Our nets' weights under the key names of the paper's reference code, as its checkpoints store them (for the
legacy-import tests and `latentct models import-legacy`)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from latentct.nets import DCGANDiscriminator, DCGANGenerator, VAEDecoder


def reference_generator_state(net: DCGANGenerator) -> OrderedDict:
    """Our generator's weights under the reference's key names (an nn.Sequential called `main`)."""
    return OrderedDict((k.replace("net.", "main.", 1), v.clone()) for k, v in net.state_dict().items())


def reference_discriminator_state(net: DCGANDiscriminator) -> OrderedDict:
    last = len(net.features)
    return OrderedDict(
        (k.replace("features.", "main.", 1) if k.startswith("features.") else k.replace("head.", f"main.{last}.", 1), v.clone())
        for k, v in net.state_dict().items()
    )


def reference_decoder_state(net: VAEDecoder, prefix: str = "") -> OrderedDict:
    blocks = ["conv1", "conv12", "conv2", "conv3", "conv4", "conv5", "conv6"]
    parts = {"conv1": "conv1", "bn1": "BN1", "conv2": "conv2", "bn2": "BN2", "skip": "conv3"}
    state = OrderedDict()
    for key, value in net.state_dict().items():
        if key.startswith("out."):
            state[prefix + "conv7." + key[4:]] = value.clone()
        else:
            _, index, part, tail = key.split(".", 3)
            state[f"{prefix}{blocks[int(index)]}.{parts[part]}.{tail}"] = value.clone()
    return state


def randomise(net: nn.Module) -> nn.Module:
    """Every float tensor of `net` drawn at random (positive, so BatchNorm's running_var stays valid)."""
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn_like(t).abs() + 0.1)  # positive, so running_var stays valid
    return net
