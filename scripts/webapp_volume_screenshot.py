"""The Volume view against the shipped demo models: the docs screenshot (docs/images/webapp_volume.png) and how long
the first load and a crosshair move take in Chromium. Research only, not for clinical use.

    .venv/bin/python scripts/webapp_volume_screenshot.py [--models-dir models | --url http://127.0.0.1:8000]
                                                         [--out docs/images/webapp_volume.png]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
QUERY = "?view=volume&model=phantom-dcgan&set=supervised&seed=0&window=lung&slices=64&path=straight"
READY = "section[data-view=volume][data-state=ready][data-reference=ready]"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(models_dir: Path, port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LATENTCT_DATA_DIR": data_dir, "LATENTCT_DEVICE": "cpu"}
    cmd = [str(Path(sys.executable).parent / "latentct"), "serve", "--models-dir", str(models_dir), "--port", str(port)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit("latentct serve did not become ready in 300 s")


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
    port = free_port()
    server = None if args.url else start_server(args.models_dir, port, data_dir.name)
    base = args.url.rstrip("/") if args.url else f"http://127.0.0.1:{port}"
    try:
        shoot(base, args.out)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
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
