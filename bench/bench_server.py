"""Serving speed over HTTP: our server against a naive one, side by side, on the demo models and this machine.

    .venv/bin/python bench/bench_server.py [--models-dir models] [--seconds 8] [--rounds 4] [--workers 2]
                                           [--engine-threads 1] [--compile] [--reduced-precision]
                                           [--device cpu|cuda] [--paper-size] [--cpu-threads N] [--compare-src DIR]

The naive server (built below) is what one writes first: a sync FastAPI endpoint per request (so Starlette's thread
pool runs them concurrently), an eager forward under no_grad per request on the same device as ours, Pillow's default
PNG compression. Ours is `latentct serve` as shipped (on a CPU with 2+ cores: two engine threads), plus `--workers N`
and `--engine-threads N` (by default 1, the single-threaded engine, for comparison) (and, on request, `--compile` and
reduced precision forced on whatever its error, LATENTCT_HALF_PRECISION=on: bfloat16 on a CPU with native bf16, float16 on
CUDA). All servers run at once in their own processes, idle except while measured; a light asyncio HTTP/1.1 client
(raw sockets, keep-alive, one connection per client) visits them in turn, in interleaved rounds, so the drifting
load of a shared machine hits all of them alike.
Every request uses a fresh seed: no response cache helps any side.

Measured: single-image latency p50/p95 (one client), throughput with 8 and 32 concurrent clients, traversal strips of
9 and 33 frames, and the generator's achieved GFLOP/s (latentct.nets.vae.count_macs) against the GFLOP/s torch reaches
on a 2048^3 float32 matmul here. When models/phantom-dcgan and models/phantom-vae are missing the run uses stand-ins
with the demo architecture (DCGAN ngf 32, ResNet-VAE base 16, 128 px, latent 32) and random weights: speed depends on
the architecture only, and the table says so. `--paper-size` serves the paper's DCGAN (ngf 128) instead.
Prints a table and writes bench/results/server_cpu.md (server_cuda.md on a GPU). No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from latentct.core.hardware import cpu_has_native_bf16

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.serverproc import ServerProcess, clean_environ, free_port  # noqa: E402

DEMO = {
    "gan": ("phantom-dcgan", {"latent_dim": 32, "ngf": 32, "ndf": 32, "image_size": 128}),
    "vae": ("phantom-vae", {"latent_dim": 32, "base_channels": 16, "image_size": 128}),
}
PAPER_GAN = {"latent_dim": 32, "ngf": 128, "ndf": 128, "image_size": 128}
STAND_IN_SET = "bench"


# ---------------------------------------------------------------------------------------------------------------
# the naive server


def naive_app(models_dir: Path, device: str = "cpu"):  # type: ignore[no-untyped-def]
    """Per-request eager forward on `device` in Starlette's thread pool, default PNG compression; full window only."""
    from fastapi import FastAPI, Response
    from PIL import Image

    from latentct.artifacts import list_direction_sets, list_model_dirs, load_direction_set, load_model
    from latentct.core.hu import unit_to_hu, window_to_uint8

    models = {d.name: load_model(d, device=device) for d in list_model_dirs(models_dir)}
    sets = {(m, s): load_direction_set(models_dir / m, s).directions for m in models for s in list_direction_sets(models_dir / m)}
    app = FastAPI()

    def png(unit: np.ndarray, hu_range: tuple[float, float]) -> bytes:
        lo, hi = hu_range
        grey = window_to_uint8(unit_to_hu(unit, hu_range), hi - lo, (hi + lo) / 2)
        buffer = io.BytesIO()
        Image.fromarray(grey).save(buffer, format="PNG")  # Pillow's default zlib level (6)
        return buffer.getvalue()

    @app.get("/api/models/{model}/image.png")
    def image(model: str, seed: int = 0) -> Response:
        loaded = models[model]
        z = torch.randn(loaded.latent_dim, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            unit = loaded.generator(z[None].to(device))[0, 0].cpu().numpy()
        return Response(png(unit, loaded.hu_range), media_type="image/png")

    @app.get("/api/models/{model}/traversal.png")
    def traversal(model: str, set: str, direction: int, seed: int = 0, steps: int = 9, extent: float = 6.0) -> Response:
        loaded = models[model]
        z = torch.randn(loaded.latent_dim, generator=torch.Generator().manual_seed(seed))
        t = torch.linspace(-extent, extent, steps)[:, None]
        with torch.no_grad():
            frames = loaded.generator((z[None] + t * sets[(model, set)][direction][None]).to(device))[:, 0].cpu().numpy()
        return Response(png(np.concatenate(list(frames), axis=1), loaded.hu_range), media_type="image/png")

    return app


def run_naive_server(models_dir: Path, port: int, device: str) -> None:
    import uvicorn

    uvicorn.run(naive_app(models_dir, device), host="127.0.0.1", port=port, log_level="warning")


# ---------------------------------------------------------------------------------------------------------------
# models


def stand_in_models(root: Path, paper_size: bool) -> Path:
    """Random-weight models with the demo (or paper) architecture, BatchNorm statistics warmed, one direction set."""
    from latentct.artifacts import save_direction_set, save_model
    from latentct.nets import build_component

    torch.manual_seed(0)
    for kind, (model_id, arch) in DEMO.items():
        if kind == "gan" and paper_size:
            arch = PAPER_GAN
        components = ("generator", "discriminator") if kind == "gan" else ("generator", "encoder")
        nets = {name: build_component(kind, name, arch) for name in components}
        nets["generator"].train()
        with torch.no_grad():
            for _ in range(2):
                nets["generator"](torch.randn(16, arch["latent_dim"]))
        nets["generator"].eval()
        save_model(root / model_id, kind=kind, arch=arch, nets=nets, description=f"benchmark stand-in ({kind})")
        save_direction_set(root / model_id, STAND_IN_SET, torch.randn(8, arch["latent_dim"]), method="random")
    return root


def demo_models_present(models_dir: Path) -> bool:
    return all((models_dir / model_id / "model.json").is_file() for model_id, _ in DEMO.values())


def first_set(models_dir: Path, model_id: str) -> str:
    from latentct.artifacts import list_direction_sets

    sets = list_direction_sets(models_dir / model_id)
    return sets[0] if sets else ""


# ---------------------------------------------------------------------------------------------------------------
# a light HTTP/1.1 load generator


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str) -> tuple[int, int]:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length)
        return status, len(body)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Seeds:
    """Every request gets a seed never used before in this run: no response cache can help."""

    next_seed: int = 1

    def take(self) -> int:
        self.next_seed += 1
        return self.next_seed


async def latencies(port: int, paths: Iterator[str], count: int, warmup: int = 5) -> list[float]:
    connection = await Connection.open(port)
    times = []
    for i in range(count + warmup):
        path = next(paths)
        started = time.perf_counter()
        status, _ = await connection.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
        if i >= warmup:
            times.append(time.perf_counter() - started)
    connection.close()
    return times


async def throughput(port: int, paths: Iterator[str], clients: int, seconds: float) -> tuple[float, list[float]]:
    """Images per second with `clients` closed-loop clients, and their request latencies."""
    deadline = time.perf_counter() + seconds
    done: list[float] = []

    async def client() -> None:
        connection = await Connection.open(port)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status, _ = await connection.get(next(paths))
            if status == 200:
                done.append(time.perf_counter() - started)
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    return len(done) / (time.perf_counter() - started), done


def image_paths(model_id: str, seeds: Seeds) -> Iterator[str]:
    while True:
        yield f"/api/models/{model_id}/image.png?seed={seeds.take()}"


def strip_paths(model_id: str, set_id: str, steps: int, seeds: Seeds) -> Iterator[str]:
    while True:
        yield f"/api/models/{model_id}/traversal.png?seed={seeds.take()}&set={set_id}&direction=0&steps={steps}"


# ---------------------------------------------------------------------------------------------------------------
# servers under test


@dataclass(frozen=True)
class Running:
    port: int
    pid: int


def process_tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (uvicorn's worker processes), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu.get(p, 0.0) for p in tree)


@contextlib.contextmanager
def server(
    kind: str, models_dir: Path, device: str, options: list[str], data_dir: Path, settings: dict[str, str] | None = None
) -> Iterator[Running]:
    port = free_port()
    env = {**clean_environ(), "LATENTCT_DATA_DIR": str(data_dir), "LATENTCT_LOG_LEVEL": "warning",  # its own settings
           "LATENTCT_PORT": str(port), **(settings or {})}
    if kind == "naive":
        command = [sys.executable, __file__, "--naive-server", "--port", str(port), "--models-dir", str(models_dir),
                   "--device", device]
        ready_path = f"/api/models/{DEMO['gan'][0]}/image.png"
    else:
        command = [sys.executable, "-m", "latentct.cli", "serve", "--models-dir", str(models_dir), "--port", str(port),
                   "--device", device, *options]
        ready_path = "/api/ready"
    process = ServerProcess(env, data_dir / f"server-{kind}-{port}.log", command).start()
    try:
        process.wait_answering(ready_path, 600.0)
        yield Running(port, process.pid)
    finally:
        process.stop(30)


@dataclass
class ServerResult:
    name: str
    rows: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)


def ms(values: list[float], q: float) -> float:
    return float(np.quantile(np.asarray(values), q) * 1000.0)


def measure(servers: dict[str, Running], models_dir: Path, seconds: float, rounds: int) -> list[ServerResult]:
    """Every measurement in `rounds` rounds, each round visiting every server in turn (the others idle meanwhile).

    Interleaving spreads the drift of a shared machine's load over all servers alike; samples of all rounds are
    pooled (latencies) or summed (throughput).
    """
    gan_id, vae_id = DEMO["gan"][0], DEMO["vae"][0]
    gan_set = first_set(models_dir, gan_id)
    seeds = Seeds()
    results = {name: ServerResult(name) for name in servers}
    samples: dict[tuple[str, str], list[float]] = {}
    served: dict[tuple[str, str], tuple[int, float]] = {}
    cpu_s: dict[str, float] = {}

    async def one_round() -> None:
        for name, running in servers.items():
            port = running.port
            for label, model_id, count in (("GAN", gan_id, 200), ("VAE", vae_id, 100)):
                times = await latencies(port, image_paths(model_id, seeds), count // rounds)
                samples.setdefault((name, f"{label} single"), []).extend(times)
            for clients in (8, 32):
                cpu_before = process_tree_cpu_s(running.pid)
                rate, times = await throughput(port, image_paths(gan_id, seeds), clients, seconds / rounds)
                cpu_s[name] = cpu_s.get(name, 0.0) + process_tree_cpu_s(running.pid) - cpu_before
                count_so_far, time_so_far = served.get((name, f"c{clients}"), (0, 0.0))
                served[(name, f"c{clients}")] = (count_so_far + len(times), time_so_far + len(times) / max(rate, 1e-9))
                samples.setdefault((name, f"c{clients}"), []).extend(times)
            for steps, count in ((9, 30), (33, 12)):
                times = await latencies(port, strip_paths(gan_id, gan_set, steps, seeds), max(count // rounds, 3), warmup=1)
                samples.setdefault((name, f"strip{steps}"), []).extend(times)

    for i in range(rounds):
        print(f"  round {i + 1} of {rounds}", flush=True)
        asyncio.run(one_round())
    for name, result in results.items():
        for label in ("GAN", "VAE"):
            times = samples[(name, f"{label} single")]
            result.numbers[f"{label} p50"] = ms(times, 0.5)
            result.rows[f"single image, {label}: p50 / p95 ms"] = f"{ms(times, 0.5):.1f} / {ms(times, 0.95):.1f}"
        for clients in (8, 32):
            count, elapsed = served[(name, f"c{clients}")]
            times = samples[(name, f"c{clients}")]
            result.numbers[f"c{clients}"] = count / elapsed
            result.rows[f"{clients} clients, GAN: images/s (p50 / p95 ms)"] = (
                f"{count / elapsed:.0f} ({ms(times, 0.5):.0f} / {ms(times, 0.95):.0f})"
            )
        images = sum(served[(name, f"c{clients}")][0] for clients in (8, 32))
        result.numbers["cpu"] = cpu_s[name] / images * 1000.0
        result.rows["server CPU time per image under load, ms"] = f"{result.numbers['cpu']:.2f}"
        for steps in (9, 33):
            times = samples[(name, f"strip{steps}")]
            result.numbers[f"strip{steps}"] = ms(times, 0.5)
            result.rows[f"strip of {steps} frames, GAN: p50 / p95 ms"] = f"{ms(times, 0.5):.1f} / {ms(times, 0.95):.1f}"
    return list(results.values())


# ---------------------------------------------------------------------------------------------------------------
# FLOP/s


def matmul_gflops(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best / 1e9


def generator_macs(models_dir: Path) -> int:
    from latentct.artifacts import load_model
    from latentct.nets.vae import count_macs

    model = load_model(models_dir / DEMO["gan"][0], components=("generator",))
    return count_macs(model.generator, torch.randn(1, model.latent_dim))


def in_process_gflops(
    models_dir: Path, device: torch.device, batch: int, precision: str, served: bool, repeats: int = 7
) -> tuple[float, str]:
    """The generator's own rate, no HTTP: best of `repeats` forwards of `batch` images under inference_mode.

    precision "off" with `served` False is the float32 eager model (the naive server's); precision "auto" with `served`
    True is the model as our server runs it (its serving form, in the precision the server picks).
    """
    from latentct.rendering.registry import load_served_model

    model = load_served_model(models_dir / DEMO["gan"][0], device, half_precision=precision)
    macs = generator_macs(models_dir)
    z = torch.randn(batch, model.latent_dim, device=device, dtype=model.dtype)
    forward = model.run_forward if served else model.generator
    best = float("inf")
    with torch.inference_mode():
        forward(z)
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            forward(z)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - started)
    return 2 * macs * batch / best / 1e9, str(model.dtype).removeprefix("torch.")


def encode_seconds(port: int, model_id: str) -> tuple[float, str, float]:
    """One /encode of a synthetic 256 px slice (air, body, two lungs): wall seconds, method, reconstruction MAE."""
    import httpx

    y, x = np.mgrid[:256, :256] / 256 - 0.5
    hu = np.full((256, 256), -1000.0, np.float32)
    hu[(x / 0.45) ** 2 + (y / 0.32) ** 2 < 1] = 40.0
    for cx in (-0.18, 0.18):
        hu[((x - cx) / 0.14) ** 2 + (y / 0.22) ** 2 < 1] = -850.0
    buffer = io.BytesIO()
    np.save(buffer, hu)
    started = time.perf_counter()
    response = httpx.post(f"http://127.0.0.1:{port}/api/models/{model_id}/encode",
                          files={"file": ("slice.npy", buffer.getvalue())}, timeout=600)
    elapsed = time.perf_counter() - started
    body = response.json()
    return elapsed, body["method"], body["reconstruction_mae_hu"]


def engine_stats(port: int) -> dict[str, float]:
    import httpx

    return dict(httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).json()["engine"])


# ---------------------------------------------------------------------------------------------------------------
# report


def measure_flops(models_dir: Path, device: torch.device, macs: int, results: list[ServerResult]) -> dict[str, float]:
    """Like for like on a CPU: torch on cores - 1 threads (one here, as each of our engine threads runs it)."""
    threads = torch.get_num_threads()
    flops: dict[str, float] = {f"matmul 2048^3 float32, {threads} threads": matmul_gflops(device)}
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
    flops[f"matmul 2048^3 float32, {torch.get_num_threads()} thread(s)"] = matmul_gflops(device)
    reduced = torch.bfloat16 if device.type == "cpu" else torch.float16
    reduced_name = str(reduced).removeprefix("torch.")
    if device.type == "cuda" or cpu_has_native_bf16():  # emulated bf16 takes minutes here and no server would use it
        flops[f"matmul 2048^3 {reduced_name}, {torch.get_num_threads()} thread(s)"] = matmul_gflops(device, reduced)
    for precision, who in (("off", "naive's float32 eager"), ("auto", "as our server runs it")):
        for batch in (1, 16, 32):
            rate, dtype = in_process_gflops(models_dir, device, batch, precision, served=precision == "auto")
            flops[f"GAN forward, {who} ({dtype}), batch {batch}, in process"] = rate
    flops["GAN via our server, 32 clients (images/s x FLOP per image)"] = results[0].numbers["c32"] * 2 * macs / 1e9
    flops["GAN via the naive server, 32 clients"] = results[-1].numbers["c32"] * 2 * macs / 1e9
    torch.set_num_threads(threads)
    return flops


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def report(results: list[ServerResult], notes: list[str], flops: dict[str, float]) -> str:
    names = [r.name for r in results]
    ours = results[:-1]
    keys = list(results[0].rows)
    width = max(len(k) for k in keys) + 2
    ratio_names = " | ".join(f"{r.name} / naive" for r in ours)
    lines = ["| measurement | " + " | ".join(names) + f" | {ratio_names} |", "| --- |" + " --- |" * (len(names) + len(ours))]
    ratio_keys = {
        "single image, GAN: p50 / p95 ms": ("GAN p50", True),
        "single image, VAE: p50 / p95 ms": ("VAE p50", True),
        "8 clients, GAN: images/s (p50 / p95 ms)": ("c8", False),
        "32 clients, GAN: images/s (p50 / p95 ms)": ("c32", False),
        "server CPU time per image under load, ms": ("cpu", True),
        "strip of 9 frames, GAN: p50 / p95 ms": ("strip9", True),
        "strip of 33 frames, GAN: p50 / p95 ms": ("strip33", True),
    }
    for key in keys:
        cells = [r.rows[key] for r in results]
        number, lower_is_better = ratio_keys[key]
        naive = results[-1].numbers[number]
        ratios = [naive / r.numbers[number] if lower_is_better else r.numbers[number] / naive for r in ours]
        lines.append(f"| {key.ljust(width)} | " + " | ".join(cells) + " | " + " | ".join(f"{x:.2f}x" for x in ratios) + " |")
    lines += ["", "| generator compute | GFLOP/s |", "| --- | --- |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in flops.items()]
    lines += ["", *[f"- {n}" for n in notes]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each throughput measurement (all rounds)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds over the servers")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--compile", action="store_true", help="also measure our server with --compile")
    parser.add_argument("--cpu-threads", type=int, default=0, help="also measure our server with this many torch threads (0: no)")
    parser.add_argument("--compare-src", type=Path, default=None,
                        help="also measure our server as the source tree at this path has it (a git worktree of another commit)")
    parser.add_argument("--workers", type=int, default=2, help="also measure our server with this many processes (0: no)")
    parser.add_argument("--engine-threads", type=int, default=1,
                        help="also measure our server with this many engine threads (0: no)")
    parser.add_argument("--reduced-precision", action="store_true",
                        help="also measure our server with LATENTCT_HALF_PRECISION=on (bfloat16 whatever its error)")
    parser.add_argument("--paper-size", action="store_true", help="stand-in GAN at the paper's width (ngf 128)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--naive-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_server:
        run_naive_server(args.models_dir, args.port, args.device)
        return

    scratch = Path(tempfile.mkdtemp(prefix="latentct-bench-"))
    notes = []
    try:
        models_dir = args.models_dir
        if args.paper_size or not demo_models_present(models_dir):
            models_dir = stand_in_models(scratch / "models", args.paper_size)
            what = "the paper's DCGAN (ngf 128)" if args.paper_size else "the demo architecture"
            notes.append(f"models: stand-ins with {what} and random weights (the demo models were not used)")
        else:
            notes.append(f"models: the shipped demo models in {models_dir}")
        device = torch.device(args.device)
        gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
        notes.append(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
                     f"{torch.__version__}, {torch.get_num_threads()} torch threads; device {device}{gpu}")
        notes.append(f"load average (1/5/15 min) at start: {load_average()} (the machine is shared with other work)")
        macs = generator_macs(models_dir)
        notes.append(f"GAN generator: {macs / 1e9:.3f} GMAC per image (count_macs)")
        servers: list[tuple[str, list[str], dict[str, str]]] = [("ours", [], {})]
        if args.workers > 1:
            servers.append((f"ours --workers {args.workers}", ["--workers", str(args.workers)], {}))
        if args.engine_threads > 0:
            servers.append((f"ours --engine-threads {args.engine_threads}", ["--engine-threads", str(args.engine_threads)], {}))
        if args.compile:
            servers.append(("ours --compile", ["--compile"], {}))
        if args.compare_src is not None:
            backend = args.compare_src.resolve() / "backend"
            if not (backend / "latentct").is_dir():
                parser.error(f"--compare-src {args.compare_src}: no backend/latentct there")
            servers.append((f"ours at {args.compare_src.name}", [], {"PYTHONPATH": str(backend)}))
        if args.cpu_threads > 0:
            servers.append((f"ours --cpu-threads {args.cpu_threads}", ["--cpu-threads", str(args.cpu_threads)], {}))
        if args.reduced_precision:
            servers.append(("ours, reduced precision on", [], {"LATENTCT_HALF_PRECISION": "on"}))
        servers.append(("naive", [], {}))
        with contextlib.ExitStack() as stack:
            running: dict[str, Running] = {}
            for name, options, settings in servers:
                print(f"starting {name} ...", flush=True)
                kind = "naive" if name == "naive" else "ours"
                data_dir = scratch / f"var-{len(running)}"
                running[name] = stack.enter_context(server(kind, models_dir, args.device, options, data_dir, settings))
            print(f"measuring, {args.rounds} interleaved rounds ...", flush=True)
            results = measure(running, models_dir, args.seconds, args.rounds)
            ports = {name: r.port for name, r in running.items()}
            import httpx

            for name in (n for n in ports if n == "ours" or "precision" in n):
                for info in httpx.get(f"http://127.0.0.1:{ports[name]}/api/models", timeout=10).json():
                    error = info.get("precision_error_hu")
                    measured = f"; reduced precision measured at max {error:.1f} HU" if error is not None else ""
                    notes.append(f"{name} serves {info['id']} in {info['precision']}{measured} (tolerance: 1 grey level "
                                 f"of the full window, {(info['hu_range'][1] - info['hu_range'][0]) / 255:.1f} HU)")
            for label, (model_id, _) in DEMO.items():
                seconds, method, mae = encode_seconds(ports["ours"], model_id)
                notes.append(f"ours: encode on the {label.upper()} ({method}): {seconds:.2f} s over HTTP, "
                             f"reconstruction MAE {mae:.0f} HU")
            for name, options, _ in servers:
                if name != "naive":
                    stats = engine_stats(ports[name])
                    which = " (one of its processes)" if "--workers" in options else ""
                    per_image = stats["cpu_s"] / max(stats["images"], 1) * 1000
                    notes.append(f"{name}{which}: {stats['threads']} engine thread(s) of {stats['torch_threads']} torch "
                                 f"thread(s); {stats['images']} images in {stats['batches']} batches (mean batch "
                                 f"{stats['mean_batch']}, largest {stats['largest_batch']}), {stats['rejected']} rejected; "
                                 f"engine thread CPU {per_image:.2f} ms per image (the rest of the server's CPU time is "
                                 "HTTP, windowing and PNG)")
        flops = measure_flops(models_dir, device, macs, results)
        notes.append(f"load average at end: {load_average()}")
        text = report(results, notes, flops)
        print(text)
        out = args.out or REPO / "bench" / "results" / f"server_{device.type}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"# Serving benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n\n`{' '.join(sys.argv)}`\n\n{text}\n")
        print(f"\nwritten to {out}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
