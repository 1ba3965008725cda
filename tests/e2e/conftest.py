"""Browser-test fixtures: a real `latentct serve` on a free port (tiny models, SQLite labels) and Debian's Chromium."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import make_tiny_models_dir
from tests.support.serverproc import ServerProcess, free_port, server_env

__all__ = ["Server", "Tab", "free_port", "webapp_server"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
SERVER_START_TIMEOUT_S = 300.0  # a loaded 2-core machine can take minutes to import torch and warm the models


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here drives a browser: skip them all, with the reason, where Chromium is missing."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium)"))


@dataclass
class Server:
    base_url: str
    admin_token: str
    log_path: Path

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, f"{self.base_url}/api{path}", headers=headers, timeout=30.0, **kwargs)

    def add_annotator(self, name: str, role: str = "annotator") -> dict[str, Any]:
        response = self.api("POST", "/annotators", token=self.admin_token, json={"name": name, "role": role})
        assert response.status_code == 201, response.text
        return dict(response.json())


@contextlib.contextmanager
def webapp_server(models_dir: Path, root: Path, timeout_s: float = SERVER_START_TIMEOUT_S) -> Iterator[Server]:
    """A ready `latentct serve` over `models_dir` with SQLite labels and an admin token under `root`, stopped after."""
    admin_token = secrets.token_urlsafe(24)
    env = server_env(models_dir, root / "var", free_port(), database_url=f"sqlite:///{root / 'labels.sqlite3'}",
                     admin_token=admin_token, half_precision="auto")
    process = ServerProcess(env, root / "server.log", cwd=root).start()
    try:
        try:
            process.wait_ready(timeout_s)
        except RuntimeError as exc:
            pytest.fail(f"`latentct serve` did not become ready: {str(exc)[-4000:]}")
        yield Server(base_url=process.base_url, admin_token=admin_token, log_path=process.log_path)
    finally:
        process.stop(10)


def write_scorecard(model_dir: Path, probe_dir: Path) -> None:
    """A real (tiny) scorecard for the Review view: a probe fitted to the model's images, then `build_scorecard`."""
    from latentct.artifacts import list_direction_sets, load_model
    from latentct.discovery.scorecard import ScorecardConfig, build_scorecard
    from tests.discovery.conftest import train_tiny_probe

    model = load_model(model_dir)
    train_tiny_probe(model.generator, model.latent_dim, probe_dir, steps=50)
    config = ScorecardConfig(seeds=3, steps=3, random_directions=16, precision="fp32")
    build_scorecard(model_dir, list_direction_sets(model_dir), config, probe_dir=probe_dir, device="cpu", progress=False)


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("webapp")
    models_dir = make_tiny_models_dir(root / "models")
    write_scorecard(models_dir / "tiny-gan", root / "probe")
    with webapp_server(models_dir, root) as running:
        yield running


@dataclass
class Console:
    """What the page said: console errors and uncaught exceptions, each as text."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            url = (message.location or {}).get("url", "")
            self.errors.append(f"{message.text} [{url}]" if url else message.text)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Tab:
    page: Any
    console: Console
    base_url: str

    def open(self, query: str = "") -> None:
        self.page.goto(f"{self.base_url}/{query}")
        self.page.wait_for_selector("body[data-ready]")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def tab(browser: Any, server: Server) -> Iterator[Tab]:
    """A fresh browser context (its own sessionStorage and cache) at 1280x800."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        yield Tab(page=page, console=console, base_url=server.base_url)
    finally:
        context.close()
