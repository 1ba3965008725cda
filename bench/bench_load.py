"""Load and overload of a real `latentct serve` process on loopback, with the numbers a deployer asks for.

    .venv/bin/python bench/bench_load.py [--seconds 30] [--rounds 3] [--clients 32] [--models-dir models]
                                         [--burst 256] [--queue-size 16] [--malloc-arena-max 2]
                                         [--flood-seconds 30] [--flood-clients 16] [--render-budget-mpx 384]
                                         [--scenarios load,overload,gif-flood] [--out bench/results/load_cpu.md]

Load: `--clients` concurrent clients (httpx AsyncClient, one connection each) for `--rounds` rounds of `--seconds`, mixing
images (60 %, fresh seeds, one random shift), traversal strips of 9 or 33 frames (25 %) and label writes with
annotator tokens (15 %). Printed: requests per second, p50/p99 latency per kind, every status code, the server's
resident memory before and after each round (stable memory: later rounds add little), and whether
every label that got a 201 is in the store afterwards.
Overload: a second server with a small queue (`--queue-size`; one engine thread and one image per forward pass, so
the engine stays full for a while) gets `--burst` strips at once: how many are served and refused (503 with
Retry-After), how fast the refusals come back compared with the served requests (the burst's latencies include its
own client queueing on this machine; a probe thread with raw sockets times 20 more requests once the engine is full),
and that the server answers normally right after.
GIF flood: a third server (production defaults, the render budget of `--render-budget-mpx`) gets `--flood-clients`
clients asking for `traversal.gif?steps=64&scale=8` (fresh seeds; each honours Retry-After on a 503, as a client
should) for `--flood-seconds`, while one more client, in a thread of its own, times `image.png` back to back.
Printed: GIF answers 200 / 503, image.png p50 / p95, and the server's resident memory before, at its peak (sampled
every 50 ms) and after the flood has drained.
When `--models-dir` holds no model the run serves stand-ins with the demo architecture (DCGAN ngf 32, ResNet-VAE base
16, 128 px, latent 32, random weights); the table says which. No assertions: numbers side by side, written to `--out`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import torch

from latentct.core.config import Settings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hardening.loadgen import Target, run_load  # noqa: E402
from tests.support.serverproc import (  # noqa: E402
    ADMIN_TOKEN,
    ServerProcess,
    bearer,
    clean_environ,
    free_port,
    new_annotator,
    raw_request,
)

DEMO_ARCH = {
    "gan": ("standin-dcgan", {"latent_dim": 32, "ngf": 32, "ndf": 32, "image_size": 128}),
    "vae": ("standin-vae", {"latent_dim": 32, "base_channels": 16, "image_size": 128}),
}


def stand_in_models(root: Path) -> Path:
    """Random-weight models with the demo architecture and one direction set of 8 orthonormal directions each."""
    from latentct.artifacts import save_direction_set, save_model
    from latentct.nets import build_component

    torch.manual_seed(0)
    for kind, (model_id, arch) in DEMO_ARCH.items():
        components = ("generator", "discriminator") if kind == "gan" else ("generator", "encoder")
        nets = {name: build_component(kind, name, arch) for name in components}
        nets["generator"].train()
        with torch.no_grad():  # real BatchNorm statistics, so images are not flat
            nets["generator"](torch.randn(32, arch["latent_dim"]))
        nets["generator"].eval()
        save_model(root / model_id, kind=kind, arch=arch, nets=nets, description=f"load benchmark stand-in ({kind})")
        directions = torch.linalg.qr(torch.randn(arch["latent_dim"], 8))[0].T.contiguous()
        save_direction_set(root / model_id, "random", directions, method="random")
    return root


def has_models(models_dir: Path) -> bool:
    from latentct.artifacts import list_direction_sets, list_model_dirs

    return any(list_direction_sets(d) for d in list_model_dirs(models_dir))


def start_server(models_dir: Path, root: Path, name: str, arenas: str, **settings: object) -> ServerProcess:
    """`latentct serve` with the production defaults (device auto, threads by core count), plus `settings`;
    MALLOC_ARENA_MAX as the image sets it (`arenas`; empty: glibc's default)."""
    env = clean_environ()
    env.pop("MALLOC_ARENA_MAX", None)
    if arenas:
        env["MALLOC_ARENA_MAX"] = arenas
    env.update({"LATENTCT_MODELS_DIR": str(models_dir), "LATENTCT_DATA_DIR": str(root / name), "LATENTCT_PORT": str(free_port()),
                "LATENTCT_ADMIN_TOKEN": ADMIN_TOKEN, "LATENTCT_LOG_LEVEL": "warning"})
    env.update({f"LATENTCT_{k.upper()}": str(v) for k, v in settings.items()})
    return ServerProcess(env, root / f"{name}.log").start_ready()


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def load_rounds(server: ServerProcess, clients: int, seconds: float, rounds: int, lines: list[str]) -> None:
    with server.client() as client:
        target = Target.discover(client)
        served = sorted({f"{model} ({', '.join(sorted(s for m, s, _ in target.sets if m == model))})"
                         for model, _, _ in target.sets})
        lines.append(f"\nServed: {'; '.join(served)}.")
        tokens = [new_annotator(client, f"bench client {i}") for i in range(clients)]
        asyncio.run(run_load(server.base_url, tokens, target, 2.0, seed=99))  # warm-up, not counted
        rss = [server.rss_kib()]
        results = []
        for round_number in range(1, rounds + 1):
            result = asyncio.run(run_load(server.base_url, tokens, target, seconds, seed=round_number))
            rss.append(server.rss_kib())
            results.append(result)
            lines += [f"\n### Load round {round_number}: {clients} clients, {result.seconds:.1f} s, "
                      f"{result.requests / result.seconds:.0f} requests/s, {len(result.errors)} errors\n", result.table()]
            for error in result.errors[:5]:
                lines.append(f"- error: {error}")
        engine = client.get("/api/health").json()["engine"]
        acknowledged = [i for r in results for i in r.label_ids]
        exported = client.get("/api/labels/export", params={"format": "json"}, headers=bearer(ADMIN_TOKEN)).json()["labels"]
        stored = Counter(label["id"] for label in exported)
    missing = sum(1 for i in acknowledged if stored[i] != 1)
    after = ", ".join(f"after round {n} {mib(value)}" for n, value in enumerate(rss[1:], start=1))
    lines += [
        f"\nServer RSS: before {mib(rss[0])}, {after} (last round: {(rss[-1] - rss[-2]) / 1024:+.0f} MiB).",
        f"Engine: {engine['batches']} batches, mean batch {engine['mean_batch']}, largest {engine['largest_batch']}, "
        f"rejected {engine['rejected']}.",
        f"Labels: {len(acknowledged)} answered 201, {len(acknowledged) - missing} of them stored exactly once, "
        f"{missing} missing.",
    ]


async def burst(base_url: str, count: int, path: str, set_id: str) -> list[tuple[int, float, str | None]]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as client:

        async def one(seed: int) -> tuple[int, float, str | None]:
            started = time.perf_counter()
            response = await client.get(path, params={"set": set_id, "direction": 0, "steps": 33, "seed": seed})
            return response.status_code, time.perf_counter() - started, response.headers.get("retry-after")

        return list(await asyncio.gather(*(one(10_000 + i) for i in range(count))))


def probe_refusals(port: int, path: str, set_id: str, queue_size: int, count: int) -> list[tuple[int, float]]:
    """Once the engine is full, `count` strip requests one after another on fresh connections (raw sockets, in a thread
    of their own): how fast a refusal comes back, apart from the burst's own client-side queueing."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = raw_request(port, "GET /api/health HTTP/1.1")
        if status == 200 and json.loads(body)["engine"]["in_flight"] >= queue_size:
            break
        time.sleep(0.005)
    else:
        return []
    timings = []
    for i in range(count):
        started = time.perf_counter()
        status, _ = raw_request(port, f"GET {path}?set={set_id}&direction=0&steps=33&seed={20_000 + i} HTTP/1.1")
        timings.append((status, time.perf_counter() - started))
    return timings


def overload(models_dir: Path, root: Path, count: int, queue_size: int, arenas: str, lines: list[str]) -> None:
    server = start_server(
        models_dir, root, "overload", arenas, queue_size=queue_size, max_batch=1, engine_threads=1, response_cache_mb=0
    )
    try:
        with server.client() as client:
            model = client.get("/api/models").json()[0]
        path, set_id = f"/api/models/{model['id']}/traversal.png", model["direction_sets"][0]["id"]
        probes: list[tuple[int, float]] = []
        prober = threading.Thread(target=lambda: probes.extend(probe_refusals(server.port, path, set_id, queue_size, 20)))
        prober.start()
        answers = asyncio.run(burst(server.base_url, count, path, set_id))
        prober.join()
        statuses = Counter(status for status, _, _ in answers)
        served = [t for status, t, _ in answers if status == 200]
        refused = [t for status, t, _ in answers if status == 503]
        retry = Counter(r for status, _, r in answers if status == 503)
        with server.client() as client:
            after = [client.get(path, params={"set": set_id, "direction": 0, "steps": 33, "seed": s}).status_code
                     for s in range(5)]
    finally:
        server.stop()

    def ms(values: list[float], q: float) -> str:
        return f"{np.percentile(values, q) * 1000:.0f}" if values else "-"

    lines += [
        f"\n### Overload: {count} strips of 33 frames at once, queue {queue_size}, one engine thread, "
        "one image per forward pass\n",
        "| answer | count | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: |",
        f"| 200 served | {len(served)} | {ms(served, 50)} | {ms(served, 99)} |",
        f"| 503 refused | {len(refused)} | {ms(refused, 50)} | {ms(refused, 99)} |",
        f"| probe while full, 503 | {sum(1 for s, _ in probes if s == 503)} of {len(probes)} | "
        f"{ms([t for s, t in probes if s == 503], 50)} | {ms([t for s, t in probes if s == 503], 99)} |",
        f"\nOther statuses: {dict((s, n) for s, n in statuses.items() if s not in (200, 503)) or 'none'}; "
        f"Retry-After values: {dict(retry)}; the 5 requests right after the burst: {after}.",
    ]


FLOOD_GIF = {"steps": 64, "scale": 8, "direction": 0}


@dataclass
class FloodResult:
    gif_statuses: Counter[int] = field(default_factory=Counter)
    gif_latencies_s: list[float] = field(default_factory=list)
    image_latencies_s: list[float] = field(default_factory=list)
    image_statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


async def _gif_client(base_url: str, path: str, set_id: str, deadline: float, first_seed: int, result: FloodResult) -> None:
    """Back to back, fresh seeds (no cache helps); on a 503 it waits as Retry-After says (within the deadline)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=httpx.Limits(max_connections=1)) as client:
        seed = first_seed
        while time.monotonic() < deadline:
            seed += 1
            started = time.perf_counter()
            try:
                response = await client.get(path, params={**FLOOD_GIF, "set": set_id, "seed": seed})
            except httpx.HTTPError as exc:
                result.errors.append(f"gif: {type(exc).__name__}: {exc}")
                continue
            result.gif_statuses[response.status_code] += 1
            if response.status_code == 200:
                result.gif_latencies_s.append(time.perf_counter() - started)
            elif response.status_code == 503:
                wait = float(response.headers.get("retry-after", "1"))
                await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))


def _image_timer(base_url: str, path: str, stop: threading.Event, result: FloodResult) -> None:
    """image.png back to back on one connection, in a thread of its own (not behind the flood's event loop)."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        seed = 0
        while not stop.is_set():
            seed += 1
            started = time.perf_counter()
            response = client.get(path, params={"seed": seed})
            result.image_latencies_s.append(time.perf_counter() - started)
            result.image_statuses[response.status_code] += 1


def _rss_sampler(server: ServerProcess, stop: threading.Event, samples: list[int]) -> None:
    while not stop.wait(0.05):
        samples.append(server.rss_kib())


def run_flood(server: ServerProcess, clients: int, seconds: float) -> tuple[FloodResult, list[int]]:
    """The flood with the image timer and the memory sampler beside it; returns the result and RSS samples (KiB)."""
    with server.client() as client:
        model = client.get("/api/models").json()[0]
    gif_path, set_id = f"/api/models/{model['id']}/traversal.gif", model["direction_sets"][0]["id"]
    result, samples, stop = FloodResult(), [server.rss_kib()], threading.Event()
    helpers = [threading.Thread(target=_image_timer, args=(server.base_url, f"/api/models/{model['id']}/image.png", stop,
                                                          result)),
               threading.Thread(target=_rss_sampler, args=(server, stop, samples))]
    for thread in helpers:
        thread.start()

    async def flood() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_gif_client(server.base_url, gif_path, set_id, deadline, 100_000 * (i + 1), result)
                               for i in range(clients)))

    try:
        asyncio.run(flood())
    finally:
        stop.set()
        for thread in helpers:
            thread.join()
    return result, samples


def gif_flood(models_dir: Path, root: Path, clients: int, seconds: float, budget_mpx: int, arenas: str,
              lines: list[str]) -> None:
    server = start_server(models_dir, root, "flood", arenas, render_budget_mpx=budget_mpx)
    try:
        with server.client() as client:  # warm: one small GIF and one image
            model = client.get("/api/models").json()[0]
            set_id = model["direction_sets"][0]["id"]
            client.get(f"/api/models/{model['id']}/traversal.gif", params={"set": set_id, "direction": 0, "steps": 2})
            client.get(f"/api/models/{model['id']}/image.png", params={"seed": 0})
        result, samples = run_flood(server, clients, seconds)
        time.sleep(2.0)  # the flood has drained (every answer is in); let the server hand freed memory back
        end = server.rss_kib()
    finally:
        server.stop()

    def ms(values: list[float], q: float) -> str:
        return f"{np.percentile(values, q) * 1000:.0f}" if values else "-"

    gifs, images = result.gif_statuses, result.image_latencies_s
    lines += [
        f"\n### GIF flood: {clients} clients `traversal.gif?steps=64&scale=8` for {seconds:.0f} s, one client timing "
        f"`image.png`; render budget {budget_mpx} Mpx (LATENTCT_RENDER_BUDGET_MPX)\n",
        "| answer | count | p50 ms | p95 ms |", "| --- | ---: | ---: | ---: |",
        f"| GIF 200 | {gifs[200]} | {ms(result.gif_latencies_s, 50)} | {ms(result.gif_latencies_s, 95)} |",
        f"| GIF 503 (client waits Retry-After) | {gifs[503]} | | |",
        f"| image.png | {len(images)} ({dict(result.image_statuses)}) | {ms(images, 50)} | {ms(images, 95)} |",
        f"\nOther GIF statuses: {dict((s, n) for s, n in gifs.items() if s not in (200, 503)) or 'none'}; "
        f"errors: {len(result.errors)}. Server RSS: start {mib(samples[0])}, peak {mib(max(samples))}, "
        f"end {mib(end)} (end - start: {(end - samples[0]) / 1024:+.0f} MiB).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each measured load round")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3, help="measured load rounds (memory is read after each)")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models", help="models to serve (stand-ins if none)")
    parser.add_argument("--burst", type=int, default=256, help="requests sent at once in the overload phase")
    parser.add_argument("--queue-size", type=int, default=16, help="LATENTCT_QUEUE_SIZE of the overload server")
    parser.add_argument("--malloc-arena-max", default="2",
                        help="MALLOC_ARENA_MAX of the servers, as the image sets it; '' = glibc's default")
    parser.add_argument("--flood-seconds", type=float, default=30.0, help="length of the GIF flood")
    parser.add_argument("--flood-clients", type=int, default=16, help="clients asking for big GIFs in the flood")
    parser.add_argument("--render-budget-mpx", type=int, default=Settings.model_fields["render_budget_mpx"].default,
                        help="LATENTCT_RENDER_BUDGET_MPX of the flood server (default: the server's default)")
    parser.add_argument("--scenarios", default="load,overload,gif-flood", help="which to run, comma-separated")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "load_cpu.md", help="markdown report")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="latentct-load-") as tmp:
        root = Path(tmp)
        models_dir = args.models_dir if has_models(args.models_dir) else stand_in_models(root / "models")
        which = "shipped models" if models_dir == args.models_dir else "stand-ins with the demo architecture"
        arenas = args.malloc_arena_max or "glibc default"
        lines = [f"# Load and overload ({which}; {platform.processor() or platform.machine()}, "
                 f"{os.cpu_count()} cores, MALLOC_ARENA_MAX {arenas}, {time.strftime('%Y-%m-%d %H:%M')})"]
        scenarios = set(args.scenarios.split(","))
        if "load" in scenarios:
            server = start_server(models_dir, root, "load", args.malloc_arena_max)
            try:
                load_rounds(server, args.clients, args.seconds, args.rounds, lines)
            finally:
                server.stop()
        if "overload" in scenarios:
            overload(models_dir, root, args.burst, args.queue_size, args.malloc_arena_max, lines)
        if "gif-flood" in scenarios:
            gif_flood(models_dir, root, args.flood_clients, args.flood_seconds, args.render_budget_mpx,
                      args.malloc_arena_max, lines)
    report = "\n".join(lines) + "\n"
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
