"""The docs screenshots of Review, Compare, Label and Study (docs/images/webapp_*.png) against the shipped demo
models: starts `latentct serve` on a free port with a temporary label database, adds three readers' labels on
phantom-dcgan/sefa d0..d3 and a blinded study, and photographs the views at 1280x900 in Chromium.
Research only, not for clinical use.

    .venv/bin/python scripts/webapp_screenshots.py [--models-dir models] [--out docs/images] [review compare label study]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.serverproc import ServerProcess, free_port, server_env  # noqa: E402

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
    admin = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory() as data_dir:
        env = server_env(args.models_dir, Path(data_dir), free_port(), admin_token=admin,
                         database_url=f"sqlite:///{data_dir}/labels.sqlite3", half_precision="auto")
        server = ServerProcess(env, Path(data_dir) / "server.log").start_ready(300)
        try:
            base = server.base_url
            tokens = seed_labels(Api(base, admin))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                shoot(page, base, tokens, args.views, args.out)
                browser.close()
        finally:
            server.stop(30)
    print(f"wrote {', '.join(args.views)} to {args.out}")


if __name__ == "__main__":
    main()
