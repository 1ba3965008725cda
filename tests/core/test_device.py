"""Which torch device a job runs on: auto, cpu, cuda, cuda:N, and the names refused."""

from __future__ import annotations

import pytest
import torch

from latentct.core.device import resolve_device
from latentct.core.errors import InvalidInputError


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cpu", local_rank=3) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["gpu", "CPU", "cuda:", "cuda:1234", "cuda:-1", "mps", "", " cpu"])
def test_unknown_names_are_refused_naming_the_value(name: str) -> None:
    with pytest.raises(InvalidInputError, match="must be one of auto, cpu, cuda") as refused:
        resolve_device(name)
    assert repr(name) in str(refused.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_an_error_not_a_fallback() -> None:
    for name in ("cuda", "cuda:0"):
        with pytest.raises(InvalidInputError, match="torch sees no CUDA GPU"):
            resolve_device(name)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_under_torchrun_takes_the_local_rank() -> None:
    count = torch.cuda.device_count()
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda", local_rank=0) == torch.device("cuda:0")
    assert resolve_device("cuda", local_rank=count) == torch.device("cuda:0")  # wraps round the visible GPUs
    assert resolve_device("cuda:0", local_rank=count - 1) == torch.device("cuda:0")  # an explicit index is kept
