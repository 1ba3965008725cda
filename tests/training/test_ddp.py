"""Two CPU processes with the gloo backend train through the torchrun code path (env vars, DistributedSampler-like
sharding, DDP) and keep identical replicas; only rank 0 writes."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

KINDS = {"gan": {"ngf": 4, "ndf": 4}, "vae": {"base_channels": 4}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, world_size: int, ports: list[int], data: str, root: str) -> None:
    torch.set_num_threads(1)
    from latentct.training.run import run_training

    for (kind, arch), port in zip(KINDS.items(), ports, strict=True):
        # what torchrun sets for each process; run_training joins (and leaves) the process group itself
        os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size),
                           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
        options = {"epochs": 1, "batch_size": 4, "device": "cpu", "log_every_steps": 2, "sample_count": 4,
                   "quality_samples": 8, "probe_dir": "none", **arch}
        result = run_training(kind, data, f"{root}/ddp-{kind}", overrides=options, progress=False)
        tensors = {f"{n}.{k}": v.detach().contiguous() for n, net in result.nets.items() for k, v in net.state_dict().items()}
        save_file(tensors, f"{root}/{kind}-rank{rank}.safetensors")
        Path(f"{root}/{kind}-rank{rank}.json").write_text(json.dumps({"steps": result.steps, "card": result.card is not None}))


@pytest.mark.slow
def test_two_gloo_processes_keep_identical_replicas(tiny_data: Path, tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, [_free_port(), _free_port()], str(tiny_data), str(tmp_path)), nprocs=2, join=True)
    from latentct.artifacts import load_model

    for kind in KINDS:
        rank0 = load_file(str(tmp_path / f"{kind}-rank0.safetensors"))
        rank1 = load_file(str(tmp_path / f"{kind}-rank1.safetensors"))
        assert rank0.keys() == rank1.keys()
        differ = sorted(k for k in rank0 if not torch.equal(rank0[k], rank1[k]))
        # Parameters must match exactly. BatchNorm running statistics are buffers: DDP broadcasts rank 0's at every
        # forward, but each rank's last forward updates its own copy; rank 0's are the ones saved.
        assert all(k.endswith(("running_mean", "running_var")) for k in differ), f"{kind} parameters diverged: {differ[:5]}"
        info0 = json.loads((tmp_path / f"{kind}-rank0.json").read_text())
        info1 = json.loads((tmp_path / f"{kind}-rank1.json").read_text())
        assert info0["steps"] == info1["steps"] == 5  # 40 training slices / 2 ranks / batch 4
        assert info0["card"] and not info1["card"]  # only rank 0 writes the model
        out = tmp_path / f"ddp-{kind}"
        assert json.loads((out / "model.json").read_text())["training"]["world_size"] == 2
        saved = load_model(out).generator.state_dict()
        assert all(torch.equal(saved[k], rank0[f"generator.{k}"]) for k in saved)
