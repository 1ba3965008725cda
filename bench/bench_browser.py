"""Slider latency in a real browser: scrubbing a pre-fetched traversal strip vs fetching image.png per slider move.

Measured inside Chromium with performance.now():
  * input -> frame drawn: from dispatching the slider's `input` event to the canvas holding the new frame;
  * input -> next animation frame: until the first requestAnimationFrame callback after the draw (the frame is on
    screen at the paint that follows; target: within one animation frame, ~16.7 ms at 60 Hz);
  * time to first strip: from focusing a direction's slider to its strips being decoded and drawable;
  * first touch (6 samples): from the first `pointerdown` + `input` on a slider never touched before (a new
    direction and new seeds each time) to the first frame drawn for that value, and to every cell drawn; beside the
    old ordering (strips first, `?debug=eager-strips`) in the same run.
The naive approach (what a UI without strips does) fetches image.png for every move, decodes it and draws it.

Usage:
  .venv/bin/python bench/bench_browser.py                      # starts `latentct serve` on tiny test models
  .venv/bin/python bench/bench_browser.py --paper-size         # an untrained DCGAN of the paper's size (128 px)
  .venv/bin/python bench/bench_browser.py --models-dir models  # the shipped models
  .venv/bin/python bench/bench_browser.py --url http://127.0.0.1:8000 --model demo-gan --set sefa
  .venv/bin/python bench/bench_browser.py --models-dir models --model phantom-dcgan --set sefa --only-first-touch
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.support.serverproc import ServerProcess, clean_environ, free_port, latentct_command  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]
FRAME_BUDGET_MS = 1000 / 60

# One slider move through the app: set the value, dispatch `input`, time the draw (the app's latentct:frame event)
# and the next animation frame.
SCRUB_JS = """
async ([direction, value]) => {
  const slider = document.getElementById(`explore-slider-${direction}`);
  const canvas = document.querySelector('#explore-grid canvas');
  let drawnAt = null, source = null;
  const onFrame = (e) => {
    if (e.detail.canvas === canvas && drawnAt === null) { drawnAt = e.detail.t; source = e.detail.source; }
  };
  document.addEventListener('latentct:frame', onFrame);
  const t0 = performance.now();
  slider.value = String(value);
  slider.dispatchEvent(new Event('input', { bubbles: true }));
  while (drawnAt === null && performance.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 0));
  const painted = await new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  document.removeEventListener('latentct:frame', onFrame);
  return { drawn: drawnAt - t0, frame: painted - t0, source };
}
"""

# The naive approach, in the same page and canvas: fetch image.png for the value, decode, draw.
NAIVE_JS = """
async ([model, set, seed, direction, value, window]) => {
  const canvas = document.querySelector('#explore-grid canvas');
  const t0 = performance.now();
  const params = new URLSearchParams({ seed: String(seed), set, window });
  params.append('shift', `${direction}:${value}`);
  const response = await fetch(`/api/models/${model}/image.png?${params}`, { cache: 'no-store' });
  const bitmap = await createImageBitmap(await response.blob());
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const drawn = performance.now() - t0;
  const painted = await new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  return { drawn, frame: painted - t0, source: 'naive' };
}
"""

FIRST_STRIP_JS = """
async (direction) => {
  const slider = document.getElementById(`explore-slider-${direction}`);
  const ready = new Promise((resolve) => {
    const listener = (e) => {
      if (e.detail.direction !== direction) return;
      document.removeEventListener('latentct:strips-ready', listener);
      resolve(e.detail.ms);
    };
    document.addEventListener('latentct:strips-ready', listener);
  });
  slider.focus();
  return await Promise.race([ready, new Promise((r) => setTimeout(() => r(-1), 30000))]);
}
"""

# A first touch as a pointer does it: pointerdown (focus) and the first input in one task; time to the first frame
# drawn on the first cell and to every cell drawn (each cell's first frame after the input shows the new value).
FIRST_TOUCH_JS = """
async ([direction, value]) => {
  const slider = document.getElementById(`explore-slider-${direction}`);
  const canvases = [...document.querySelectorAll('#explore-grid canvas')];
  const drawn = new Map();
  const onFrame = (e) => {
    if (canvases.includes(e.detail.canvas) && !drawn.has(e.detail.canvas)) drawn.set(e.detail.canvas, e.detail.t);
  };
  document.addEventListener('latentct:frame', onFrame);
  const t0 = performance.now();
  slider.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true }));
  slider.focus();
  slider.value = String(value);
  slider.dispatchEvent(new Event('input', { bubbles: true }));
  while (drawn.size < canvases.length && performance.now() - t0 < 30000) await new Promise((r) => setTimeout(r, 1));
  document.removeEventListener('latentct:frame', onFrame);
  const first = drawn.get(canvases[0]);
  return { first: first === undefined ? -1 : first - t0, all: Math.max(...[...drawn.values()].map((t) => t - t0)) };
}
"""

FIRST_TOUCH_SAMPLES = 6


def first_touches(
    browser: Any, url: str, model: str, set_id: str, count: int, touches: int, debug: str
) -> list[dict[str, float]]:
    """`touches` first touches, each on a fresh page with new seeds and the next direction; `debug` is a URL flag."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    results = []
    for i in range(touches):
        seed = 10_000 + 1000 * i + (500 if debug else 0)  # never a seed seen before: no cached image or strip
        query = f"view=explore&model={model}&set={set_id}&seed={seed}&n={FIRST_TOUCH_SAMPLES}&extent=6{debug}"
        page.goto(f"{url}/?{query}")
        page.wait_for_selector("body[data-ready]")
        page.wait_for_function(
            "(n) => [...document.querySelectorAll('#explore-grid canvas')]"
            ".filter((c) => Number(c.dataset.frame) > 0).length === n",
            arg=FIRST_TOUCH_SAMPLES,
        )
        page.wait_for_timeout(300)  # the grid's own requests are over
        value = [1.5, -1.5, 2.25, -2.25][i % 4]
        results.append(page.evaluate(FIRST_TOUCH_JS, [i % count, value]))
    page.close()
    return results


def print_first_touch(new: list[dict[str, float]], old: list[dict[str, float]]) -> None:
    print(f"first touch, {FIRST_TOUCH_SAMPLES} samples, {len(new)} touches (new direction and seeds each time)")
    print(f"{'ms, median / p95':<34}{'this app':>26}{'old order (eager strips)':>28}")
    for name, key in (("input -> first frame drawn", "first"), ("input -> every cell drawn", "all")):
        print(f"{name:<34}{summary([m[key] for m in new]):>26}{summary([m[key] for m in old]):>28}")
    print()


def make_paper_size_model(models_dir: Path) -> Path:
    """An untrained DCGAN of the paper's size (latent 32, ngf 128, 128 px) with 8 random directions: real costs."""
    import torch

    from latentct.artifacts import save_direction_set, save_model
    from latentct.nets import build_component

    torch.manual_seed(0)
    arch = {"latent_dim": 32, "ngf": 128, "ndf": 128, "image_size": 128}
    nets = {name: build_component("gan", name, arch) for name in ("generator", "discriminator")}
    model_dir = models_dir / "paper-gan"
    save_model(model_dir, kind="gan", arch=arch, nets=nets, description="untrained paper-size DCGAN (benchmark only)")
    directions = torch.nn.functional.normalize(torch.randn(8, 32, generator=torch.Generator().manual_seed(1)), dim=1)
    save_direction_set(model_dir, "random", directions, method="random", params={"seed": 1}, direction_metrics=[{}] * 8)
    return models_dir


def start_server(models_dir: Path, workdir: Path) -> ServerProcess:
    port = free_port()
    env = {
        **clean_environ(),
        "LATENTCT_PORT": str(port),
        "LATENTCT_DATABASE_URL": f"sqlite:///{workdir / 'labels.sqlite3'}",
        "LATENTCT_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "LATENTCT_DATA_DIR": str(workdir / "var"),
        "LATENTCT_CPU_THREADS": os.environ.get("LATENTCT_CPU_THREADS", "1"),  # a shared machine: one core unless told
    }
    command = [*latentct_command(), "serve", "--models-dir", str(models_dir), "--port", str(port)]
    try:
        return ServerProcess(env, workdir / "server.log", command).start_ready(180)
    except RuntimeError as exc:
        raise SystemExit(f"error: latentct serve did not become ready: {str(exc)[:2000]}") from None


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):8.2f} / {p95:8.2f}"


def run(url: str, model: str, set_id: str, moves: int, directions: int, touches: int, only_first_touch: bool) -> None:
    from playwright.sync_api import sync_playwright

    info = httpx.get(f"{url}/api/models/{model}/directions/{set_id}", timeout=30).json()
    count = min(directions, int(info["count"]))
    extent, steps = 6.0, 33
    grid = [round(-extent + i * 2 * extent / (steps - 1), 4) for i in range(steps)]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if touches:
            touch_count = int(info["count"])
            old = first_touches(browser, url, model, set_id, touch_count, touches, "&debug=eager-strips")
            new = first_touches(browser, url, model, set_id, touch_count, touches, "")
            print_first_touch(new, old)
        if only_first_touch:
            browser.close()
            return
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/?view=explore&model={model}&set={set_id}&seed=0&n=1&extent={extent:g}")
        page.wait_for_selector("body[data-ready]")
        page.wait_for_function("() => Number(document.querySelector('#explore-grid canvas')?.dataset.frame) > 0")

        first_strip_ms = [float(page.evaluate(FIRST_STRIP_JS, k)) for k in range(count)]
        page.evaluate(FIRST_STRIP_JS, 0)
        scrub: list[dict[str, Any]] = []
        for i in range(moves):
            value = grid[(i * 7 + 3) % steps]  # jump around the strip, as a fast drag does
            scrub.append(page.evaluate(SCRUB_JS, [0, value]))
        naive: list[dict[str, Any]] = []
        for i in range(moves):
            value = round(grid[(i * 7 + 3) % steps] + 1e-3 * (i + 1), 4)  # never the same URL twice: no cache hits
            naive.append(page.evaluate(NAIVE_JS, [model, set_id, i, 0, value, "full"]))
        browser.close()

    sources = {m["source"] for m in scrub}
    print(f"model {model}, set {set_id}, {moves} slider moves, strip of {steps} frames, 1 sample, server {url}")
    print(f"(scrub moves drawn from: {', '.join(sorted(sources))})")
    print()
    print(f"{'ms, median / p95':<34}{'strip scrub (this app)':>26}{'naive image.png per move':>28}")
    for name, key in (("input -> frame drawn", "drawn"), ("input -> next animation frame", "frame")):
        print(f"{name:<34}{summary([m[key] for m in scrub]):>26}{summary([m[key] for m in naive]):>28}")
    valid = [v for v in first_strip_ms if v >= 0]
    if valid:
        print(f"{'time to first strip (new dir.)':<34}{summary(valid):>26}{'(no strip)':>28}")
    print()
    within = sum(m["frame"] <= FRAME_BUDGET_MS for m in scrub) / len(scrub)
    within_naive = sum(m["frame"] <= FRAME_BUDGET_MS for m in naive) / len(naive)
    print(f"moves on screen within one animation frame ({FRAME_BUDGET_MS:.1f} ms): strip {within:.0%}, naive {within_naive:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; by default one is started")
    parser.add_argument("--models-dir", type=Path, help="models to serve (default: tiny test models, 32 px)")
    parser.add_argument("--paper-size", action="store_true", help="serve an untrained DCGAN of the paper's size (128 px)")
    parser.add_argument("--model", default=None, help="model id (default: the first one)")
    parser.add_argument("--set", dest="set_id", default=None, help="direction set id (default: the model's first)")
    parser.add_argument("--moves", type=int, default=60, help="slider moves per approach")
    parser.add_argument("--directions", type=int, default=4, help="directions whose first strip is timed")
    parser.add_argument("--first-touches", type=int, default=20, help="first touches timed per ordering (0: none)")
    parser.add_argument("--only-first-touch", action="store_true", help="time first touches only")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"error: {CHROMIUM} is missing (apt-get install chromium)")

    process: ServerProcess | None = None
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url
        if url is None:
            models_dir = args.models_dir
            if args.paper_size:
                models_dir = make_paper_size_model(Path(tmp) / "models")
            elif models_dir is None:
                from tests.factories import make_tiny_models_dir

                models_dir = make_tiny_models_dir(Path(tmp) / "models")
            process = start_server(models_dir, Path(tmp))
            url = process.base_url
        try:
            models = httpx.get(f"{url}/api/models", timeout=30).json()
            model = next((m for m in models if m["id"] == args.model), models[0]) if args.model else models[0]
            set_id = args.set_id or model["direction_sets"][0]["id"]
            run(url, model["id"], set_id, args.moves, args.directions, args.first_touches, args.only_first_touch)
        finally:
            if process is not None:
                process.stop(10)


if __name__ == "__main__":
    main()
