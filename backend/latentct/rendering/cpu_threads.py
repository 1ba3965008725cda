"""How many threads the rendering service computes with (no torch import; each process's lifespan resolves them)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers narrow; else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_engine_threads(setting: int, workers: int = 1, cores: int | None = None) -> int:
    """Engine threads per process on a CPU: the setting, or for 0 (auto) 2 when a process has 2 or more cores, else 1.

    Two batches computing at once use two cores while the event loop fits in between; one engine thread leaves a
    core to the event loop alone, which needs about a third of one. Demo GAN on 2 cores, 32 clients: 590 images/s
    with 2 engine threads, 456 with 1; 3 or 4 were no faster than 2.
    """
    if setting > 0:
        return setting
    return 2 if _cores_per_process(workers, cores) >= 2 else 1


def resolve_torch_threads(
    cpu_threads: int, workers: int = 1, engine_threads: int = 1, cores: int | None = None, device_type: str = "cpu"
) -> int:
    """torch threads per engine thread: the setting, or for 0 the cores shared between the processes, one per process
    left to its event loop, the rest shared between the engine's threads (at least one each); on a GPU, one.

    On a GPU the CPU's torch work is small copies; a wide pool only spins after each of them. The demo GAN on an H200
    with 16 cores, 32 clients, one 4-second round: one thread took 0.92 ms of server CPU per image at 1271 images/s,
    15 threads 8.64 ms at 1204 images/s; 15 threads were faster on strips (33 frames: 11.2 against 13.0 ms).

    The event loop parses HTTP and encodes PNGs while the engine computes; an intra-op pool as wide as the machine
    would fight it for the cores (and OpenMP barriers degrade badly when a thread of the pool is descheduled).
    """
    if cpu_threads > 0:
        return cpu_threads
    if device_type != "cpu":
        return 1
    return max(1, (_cores_per_process(workers, cores) - 1) // max(engine_threads, 1))


def _cores_per_process(workers: int, cores: int | None) -> int:
    return (available_cores() if cores is None else cores) // max(workers, 1)
