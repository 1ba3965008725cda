"""What this machine's processor can do natively (base layer: imports nothing of ours)."""

from __future__ import annotations

from pathlib import Path


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16), read from /proc/cpuinfo's flags.

    On such CPUs oneDNN runs bfloat16 convolutions several times faster than float32 (bench/bench_training.py);
    elsewhere bfloat16 is emulated and slower, so "auto" precision stays float32 there.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return bool(flags & {"amx_bf16", "avx512_bf16"})
