"""Which torch device a job runs on: one rule for training, discovery, serving and the CLI."""

from __future__ import annotations

import re

import torch

from latentct.core.errors import InvalidInputError

DEVICES = ("auto", "cpu", "cuda")
_CUDA_INDEX = re.compile(r"cuda:[0-9]{1,3}")


def resolve_device(requested: str, local_rank: int | None = None) -> torch.device:
    """'auto' takes CUDA when torch sees a GPU, else the CPU; 'cuda' or 'cuda:N' without a GPU is an error.

    Under torchrun (`local_rank` given) a bare 'cuda' becomes the GPU of this process's LOCAL_RANK.
    """
    if requested not in DEVICES and not _CUDA_INDEX.fullmatch(requested):
        raise InvalidInputError(f"device {requested!r} must be one of {', '.join(DEVICES)} (or cuda:N)")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InvalidInputError(f"device {requested!r} was asked for but torch sees no CUDA GPU; use auto or cpu")
        if requested == "cuda" and local_rank is not None:
            requested = f"cuda:{local_rank % torch.cuda.device_count()}"
    return torch.device(requested)
