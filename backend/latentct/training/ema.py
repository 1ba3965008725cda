"""An exponential moving average of a network's weights (Yazici et al., ICLR 2019): the generator a GAN run saves.

The averaged copy follows the trained one with `decay` per step (ramped up over the first steps, so the average does
not start out dominated by the random initialisation); buffers (BatchNorm running statistics) are copied, not
averaged, because they describe activations, and the trained net's are the current estimate.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay_at(step: int, decay: float) -> float:
    """The decay used after `step` optimiser steps: min(decay, (1 + step) / (10 + step))."""
    return min(decay, (1.0 + step) / (10.0 + step))


class WeightAverage:
    """Holds `average`, an eval-mode copy of `net` that `update` moves towards `net`'s current weights."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay!r}")
        self.decay = decay
        self.average = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        """Blend after optimiser step `step` (1-based): average <- d * average + (1 - d) * net."""
        d = ema_decay_at(step, self.decay)
        averaged: list[torch.Tensor] = list(self.average.parameters())
        current = [p.detach() for p in net.parameters()]
        torch._foreach_lerp_(averaged, current, 1.0 - d)
        for mine, theirs in zip(self.average.buffers(), net.buffers(), strict=True):
            mine.copy_(theirs)
