"""The docs screenshots of Review, Compare, Label and Study (docs/images/webapp_*.png) against the shipped demo
models: starts `latentct serve` on a free port with a temporary label database, adds three readers' labels on
phantom-dcgan/sefa d0..d3 and a blinded study, and photographs the views at 1280x900 in Chromium.
Research only, not for clinical use.

    .venv/bin/python scripts/webapp_screenshots.py [--models-dir models] [--out docs/images] [review compare label study]
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
VOTES = {
    0: ["slice_level"] * 3,
    1: ["rotation", "rotation", "body_size"],
    2: ["breast_size", "breast_size", "body_thickness"],
    3: ["vertical_position", "vertical_position", "no_change"],
}
STRIPS_READY = (
    "(root) => { const f = [...document.querySelectorAll(root + ' .framed-strip')];"
    " return f.length > 0 && f.slice(0, 6).every((x) => x.dataset.ready); }"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(models_dir: Path, port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LATENTCT_DATA_DIR": data_dir, "LATENTCT_DEVICE": "cpu", "LATENTCT_CPU_THREADS": "1"}
    cmd = [str(Path(sys.executable).parent / "latentct"), "serve", "--models-dir", str(models_dir), "--port", str(port)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise SystemExit("latentct serve did not become ready in 300 s")


class Api:
    def __init__(self, base: str, admin: str) -> None:
        self.base, self.admin = base, admin

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.base}/api{path}", headers={"Authorization": f"Bearer {token}"}, timeout=120, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def annotator(self, name: str, role: str = "annotator") -> str:
        return str(self.call("POST", "/annotators", self.admin, json={"name": name, "role": role})["token"])


def seed_labels(api: Api) -> dict[str, str]:
    """Three readers label sefa d0..d3; an admin; a blinded study of three methods. Returns the tokens."""
    readers = [api.annotator(f"reader {i}") for i in range(3)]
    for i, token in enumerate(readers):
        for direction, terms in VOTES.items():
            body: dict[str, Any] = {
                "model": "phantom-dcgan",
                "set": "sefa",
                "direction": direction,
                "term": terms[i],
                "confidence": 4,
            }
            if terms[i] not in ("no_change", "body_size"):
                body["sign"] = 1
            api.call("POST", "/labels", token, json=body)
    study = {
        "model": "phantom-dcgan",
        "sets": ["sefa", "ganspace", "random"],
        "name": "Methods, blinded",
        "directions_per_set": 4,
    }
    api.call("POST", "/studies", api.admin, json=study)
    return {"admin": api.annotator("dr admin", "admin"), "reader": readers[0]}


def open_signed_in(page: Page, base: str, query: str, token: str) -> None:
    page.goto(f"{base}/{query}")
    page.wait_for_selector("body[data-ready]")
    page.evaluate("(t) => sessionStorage.setItem('latentct.annotatorToken', t)", token)
    page.goto(f"{base}/{query}")
    page.wait_for_selector("body[data-ready]")


def shoot(page: Page, base: str, tokens: dict[str, str], views: list[str], out: Path) -> None:
    if "review" in views:
        open_signed_in(
            page, base, "?view=review&model=phantom-dcgan&set=sefa&seed=3&window=mediastinum&extent=6&frame=128", tokens["admin"]
        )
        page.wait_for_function("() => document.querySelector('#review-stats').textContent.includes('κ')", timeout=120_000)
        page.wait_for_function(STRIPS_READY, arg="#review-table", timeout=120_000)
        page.screenshot(path=str(out / "webapp_review.png"))
    if "compare" in views:
        open_signed_in(
            page, base, "?view=compare&model=phantom-dcgan&set=sefa&set2=supervised&seed=3&window=mediastinum", tokens["admin"]
        )
        page.wait_for_function(STRIPS_READY, arg="#compare-matches", timeout=120_000)
        page.focus("#compare-heatmap")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowRight")
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(out / "webapp_compare.png"))
        page.evaluate("() => document.querySelector('#compare-matches').scrollIntoView()")
        page.screenshot(path=str(out / "webapp_compare_pairs.png"))
    if "label" in views:
        open_signed_in(
            page, base, "?view=label&model=phantom-dcgan&set=sefa&seed=3&window=mediastinum&extent=6&dir=4", tokens["reader"]
        )
        page.wait_for_selector("#label-grid[data-ready]", timeout=120_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "webapp_label.png"))
    if "study" in views:
        open_signed_in(page, base, "?view=study", tokens["reader"])
        page.wait_for_selector(".study-strip[src]", timeout=120_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "webapp_study.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("views", nargs="*", default=["review", "compare", "label", "study"])
    args = parser.parse_args()
    port = free_port()
    admin = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.update({"LATENTCT_ADMIN_TOKEN": admin, "LATENTCT_DATABASE_URL": f"sqlite:///{data_dir}/labels.sqlite3"})
        server: subprocess.Popen[bytes] = start_server(args.models_dir, port, data_dir)
        try:
            base = f"http://127.0.0.1:{port}"
            tokens = seed_labels(Api(base, admin))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                shoot(page, base, tokens, args.views, args.out)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {', '.join(args.views)} to {args.out}")


if __name__ == "__main__":
    main()
