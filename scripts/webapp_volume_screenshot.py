"""The Volume view against the shipped demo models: the docs screenshot (docs/images/webapp_volume.png) and how long
the first load and a crosshair move take in Chromium. Research only, not for clinical use.

    .venv/bin/python scripts/webapp_volume_screenshot.py [--models-dir models | --url http://127.0.0.1:8000]
                                                         [--out docs/images/webapp_volume.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.serverproc import ServerProcess, free_port, server_env  # noqa: E402

QUERY = "?view=volume&model=phantom-dcgan&set=supervised&seed=0&window=lung&slices=64&path=straight"
READY = "section[data-view=volume][data-state=ready][data-reference=ready]"


def measure(page: Page, base: str) -> None:
    started = time.perf_counter()
    page.goto(f"{base}/{QUERY}")
    page.wait_for_selector(READY, timeout=120_000)
    print(f"first load, both rows drawn (64 slices, 128 px, generated + real phantom): {time.perf_counter() - started:.2f} s")
    moves = page.evaluate("""() => {  // a crosshair move redraws all six planes: time 20 of them
      const canvas = document.querySelector('canvas[data-row=generated][data-plane=coronal]');
      const box = canvas.getBoundingClientRect();
      const times = [];
      for (let i = 0; i < 20; i += 1) {
        const t = performance.now();
        const at = { clientX: box.left + box.width * (0.2 + 0.03 * i), clientY: box.top + box.height * (0.1 + 0.04 * i),
                     bubbles: true, button: 0, buttons: 1, pointerId: 1 };
        canvas.dispatchEvent(new PointerEvent('pointerdown', at));
        times.push(performance.now() - t);
      }
      return times;
    }""")
    print(f"crosshair move, six planes redrawn: median {statistics.median(moves):.1f} ms, max {max(moves):.1f} ms (20 moves)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "webapp_volume.png")
    parser.add_argument("--url", help="a running `latentct serve --models-dir models` to use instead of starting one")
    args = parser.parse_args()
    data_dir = tempfile.TemporaryDirectory(prefix="latentct-volume-shot-")
    server = None
    if not args.url:  # the real CPU threads (not the tests' one), so the timings are the app's
        env = server_env(args.models_dir, Path(data_dir.name), free_port(), cpu_threads=0, half_precision="auto")
        server = ServerProcess(env, Path(data_dir.name) / "server.log").start_ready(300)
    base = args.url.rstrip("/") if args.url else server.base_url
    try:
        shoot(base, args.out)
    finally:
        if server is not None:
            server.stop(20)
        data_dir.cleanup()


def shoot(base: str, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 980})
        measure(page, base)
        page.goto(f"{base}/{QUERY}&at=26,70,52")
        page.wait_for_selector(READY, timeout=120_000)
        page.locator("canvas[data-row=generated][data-plane=axial]").hover(position={"x": 90, "y": 120})
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        print(f"wrote {out}")
        browser.close()


if __name__ == "__main__":
    main()
