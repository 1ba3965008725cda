"""Where and how a training process runs: torchrun/DDP process group, mixed precision, threads (device: core.device)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from latentct.core.device import resolve_device
from latentct.core.errors import InvalidInputError
from latentct.core.hardware import cpu_has_native_bf16


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a training process: None means float32 throughout."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise InvalidInputError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    if device.type == "cuda" or cpu_has_native_bf16():
        return torch.bfloat16
    return None


@dataclass
class Runtime:
    """This process's place in the run: device, rank and world size (1 without torchrun)."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we started the process group (so we end it); a caller's group is left alone
    channels_last: bool | None = None  # None: on CUDA only
    precision: str = "auto"  # see resolve_precision

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def amp_dtype(self) -> torch.dtype | None:
        """bf16 autocast (no loss scaling needed, unlike fp16) on CUDA and on CPUs with native bf16; else float32."""
        return resolve_precision(self.precision, self.device)

    @property
    def memory_format(self) -> torch.memory_format:
        wanted = self.device.type == "cuda" if self.channels_last is None else self.channels_last
        return torch.channels_last if wanted else torch.contiguous_format

    def place(self, net: torch.nn.Module) -> torch.nn.Module:
        """Move a net to this device, in channels_last on CUDA (faster convolutions with tensor cores)."""
        net = net.to(self.device)
        if self.memory_format is torch.channels_last:
            net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return net

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def start_runtime(device: str) -> Runtime:
    """Join the torchrun process group when WORLD_SIZE > 1 (NCCL on GPUs, gloo on CPUs), then pick the device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    resolved = resolve_device(device, local_rank)
    owns_group = False
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        if resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        owns_group = True
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return Runtime(device=resolved, rank=rank, world_size=world_size, local_rank=local_rank, owns_group=owns_group)


def stop_runtime(runtime: Runtime) -> None:
    if runtime.owns_group and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Limit intra-op threads for the duration (0 keeps torch's setting): several trainings can share a small CPU."""
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


