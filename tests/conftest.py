"""Test-wide settings: small thread counts so parallel work on a 2-core machine stays predictable."""

from __future__ import annotations

import os

os.environ.setdefault("LATENTCT_DEBUG", "")

import torch

torch.set_num_threads(1)
