"""The images built and run (marker `containers`): podman builds the serving image on the local Debian base
(scripts/build_base_image.sh: no image registry is needed), PostgreSQL and nginx images from deploy/, and
podman-compose brings up docker-compose.yml: two replicas, PostgreSQL, nginx. Through nginx: the web page, an image,
a traversal strip; labels written through one replica and read through the other; one replica killed while the
proxy keeps serving; the whole stack restarted with every acknowledged label still there.

Skips with a reason where podman, podman-compose, the base image or the torch wheel in deploy/wheels is missing
(`.ci/run` provides them all). Measured figures (build, start-up, image size) are printed and written to
test-artifacts/containers.json.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.deploy.deployfiles import REPO
from tests.support.serverproc import free_port

PODMAN = shutil.which("podman") or "podman"
PODMAN_COMPOSE = shutil.which("podman-compose") or "podman-compose"
BASE_IMAGE = os.environ.get("LATENTCT_BASE_IMAGE", "localhost/debian-base:bookworm")
WHEELS = REPO / "deploy" / "wheels"
IMAGE = "localhost/latentct:ci"
POSTGRES_IMAGE = "localhost/latentct-postgres:15"
NGINX_IMAGE = "localhost/latentct-nginx:1.22"
PROJECT = "latentct-ci"
CONTAINER = {name: f"{PROJECT}_{name}_1" for name in ("db", "app1", "app2", "proxy")}
READY_TIMEOUT_S = 300.0
FIGURES: dict[str, Any] = {}

pytestmark = [pytest.mark.containers, pytest.mark.slow, pytest.mark.timeout(2400)]


def podman_env() -> dict[str, str]:
    """This environment, with deploy/podman/containers.conf (runc, cgroupfs, explicit ulimits) unless the caller
    names a containers.conf of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATENTCT_")}
    env.setdefault("CONTAINERS_CONF", str(REPO / "deploy" / "podman" / "containers.conf"))
    return env


def run(*command: str, timeout: float = 600, env: dict[str, str] | None = None, check: bool = True) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                            env=env if env is not None else podman_env())
    if check:
        assert result.returncode == 0, f"{' '.join(command)} -> {result.returncode}\n{(result.stdout + result.stderr)[-4000:]}"
    return result.stdout


def skip_reason() -> str | None:
    if shutil.which(PODMAN) is None:
        return "podman is not installed (Debian: apt-get install podman runc catatonit iptables; .ci/run installs them)"
    if shutil.which(PODMAN_COMPOSE) is None:
        return "podman-compose is not installed (Debian: apt-get install podman-compose)"
    exists = subprocess.run([PODMAN, "image", "exists", BASE_IMAGE], env=podman_env(), capture_output=True, timeout=60)
    if exists.returncode != 0:
        return f"no base image {BASE_IMAGE}: run scripts/build_base_image.sh"
    if not list(WHEELS.glob("torch-*.whl")):
        return 'no torch wheel in deploy/wheels: pip download --no-deps "torch>=2.4,<2.14" -d deploy/wheels'
    return None


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, float]]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    # every dependency in deploy/wheels (pip download ".[postgres]" setuptools -d deploy/wheels): no index at all
    wheels_only = "1" if list(WHEELS.glob("fastapi-*.whl")) else "0"
    timings: dict[str, float] = {}
    start = time.monotonic()
    run(PODMAN, "build", "--format", "docker", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
        "--build-arg", f"WHEELS_ONLY={wheels_only}", "-t", IMAGE, ".", timeout=1800)
    timings["app"] = time.monotonic() - start
    for name, image in (("postgres", POSTGRES_IMAGE), ("nginx", NGINX_IMAGE)):
        start = time.monotonic()
        run(PODMAN, "build", "--format", "docker", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", image,
            f"deploy/{name}", timeout=900)
        timings[name] = time.monotonic() - start
    FIGURES["build_s"] = {k: round(v, 1) for k, v in timings.items()}
    yield timings
    write_figures()


def write_figures() -> None:
    out = REPO / "test-artifacts" / "containers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2) + "\n")
    print("\ncontainer figures:", json.dumps(FIGURES))


def inspect(image: str) -> dict[str, Any]:
    data = json.loads(run(PODMAN, "image", "inspect", image))
    assert isinstance(data, list) and len(data) == 1
    return dict(data[0])


def test_the_image_is_non_root_without_build_tools_and_checks_readiness(images: dict[str, float]) -> None:
    image = inspect(IMAGE)
    config = image["Config"]
    assert config["User"] == "latentct"
    healthcheck = image.get("Healthcheck") or config.get("Healthcheck") or {}  # podman: top level; docker: in Config
    assert healthcheck.get("Test") == ["CMD", "python", "-m", "latentct.healthcheck", "--ready"], (
        "the HEALTHCHECK is lost when podman builds the OCI format: build with --format docker")
    FIGURES["image_bytes"] = image["Size"]
    FIGURES["image_mb"] = round(image["Size"] / 1e6)
    FIGURES["base_image_mb"] = round(inspect(BASE_IMAGE)["Size"] / 1e6)
    probe = run(PODMAN, "run", "--rm", IMAGE, "sh", "-c",
                "id -u; for t in gcc cc c++ g++ make ld pip pip3; do command -v $t; done;"
                " ls -d /src /root/.cache /app/.cache /tmp/pip* 2>/dev/null; true")
    lines = probe.split()
    assert lines[0] == "10001" and lines[1:] == [], f"expected uid 10001 and no build tools or caches, got {lines}"
    versions = run(PODMAN, "run", "--rm", IMAGE, "python", "-c",
                   "import torch, latentct; print(torch.__version__, torch.version.cuda)")
    assert versions.split()[1] == "None", versions  # the CPU wheel, no CUDA libraries


def container_ip(name: str) -> str:
    address = run(PODMAN, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).strip()
    assert address, f"{name} has no address"
    return address


def wait_ready(url: str, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Seconds until GET url/api/ready answers 200."""
    start = time.monotonic()
    while True:
        try:
            if httpx.get(f"{url}/api/ready", timeout=5).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        assert time.monotonic() - start < timeout_s, f"{url} not ready after {timeout_s:.0f} s"
        time.sleep(0.5)


def test_a_single_container_becomes_healthy_and_stops_on_sigterm(images: dict[str, float]) -> None:
    name = f"{PROJECT}-single"
    run(PODMAN, "rm", "-f", "-v", name, check=False)
    start = time.monotonic()
    run(PODMAN, "run", "-d", "--name", name, IMAGE)
    try:
        # podman runs the image's HEALTHCHECK on demand here (its timers need systemd): poll it
        while subprocess.run([PODMAN, "healthcheck", "run", name], env=podman_env(), capture_output=True,
                             timeout=60).returncode != 0:
            assert time.monotonic() - start < READY_TIMEOUT_S, run(PODMAN, "logs", name)[-3000:]
            time.sleep(1)
        FIGURES["single_container_ready_s"] = round(time.monotonic() - start, 1)
        assert "healthy" in run(PODMAN, "inspect", "--format", "{{.State.Health.Status}}", name)
        stop_start = time.monotonic()
        run(PODMAN, "stop", "-t", "45", name)
        FIGURES["single_container_stop_s"] = round(time.monotonic() - stop_start, 1)
        assert FIGURES["single_container_stop_s"] < 40, "SIGTERM did not stop the server: podman waited for SIGKILL"
        assert run(PODMAN, "inspect", "--format", "{{.State.ExitCode}}", name).strip() == "0"
    finally:
        run(PODMAN, "rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="module")
def stack(images: dict[str, float]) -> Iterator[dict[str, str]]:
    env = podman_env()
    env.update({
        "LATENTCT_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "LATENTCT_IMAGE": IMAGE,
        "LATENTCT_POSTGRES_IMAGE": POSTGRES_IMAGE,
        "LATENTCT_NGINX_IMAGE": NGINX_IMAGE,
        "LATENTCT_PUBLIC_PORT": str(free_port()),
        "LATENTCT_DEVICE": "cpu",
    })
    compose = [PODMAN_COMPOSE, "-p", PROJECT, "-f", str(REPO / "docker-compose.yml")]
    run(*compose, "down", "-v", env=env, check=False)
    try:
        yield env
    finally:
        logs = {name: run(PODMAN, "logs", "--tail", "40", container, check=False) for name, container in CONTAINER.items()}
        (REPO / "test-artifacts").mkdir(exist_ok=True)
        (REPO / "test-artifacts" / "containers-logs.txt").write_text(
            "\n".join(f"== {name}\n{text}" for name, text in logs.items()))
        run(*compose, "down", "-v", env=env, check=False, timeout=300)


def compose_up(env: dict[str, str]) -> float:
    """podman-compose up -d; seconds until both replicas and the proxy answer /api/ready (podman-compose starts
    everything at once: it does not wait for `condition: service_healthy`)."""
    start = time.monotonic()
    run(PODMAN_COMPOSE, "-p", PROJECT, "-f", str(REPO / "docker-compose.yml"), "up", "-d", "--no-build",
        env=env, timeout=300)
    for replica in ("app1", "app2"):
        wait_ready(f"http://{container_ip(CONTAINER[replica])}:8000", READY_TIMEOUT_S - (time.monotonic() - start))
    wait_ready(proxy_url(env), 60)
    return time.monotonic() - start


def proxy_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['LATENTCT_PUBLIC_PORT']}"


def test_the_stack_serves_through_nginx_survives_a_replica_and_keeps_labels(stack: dict[str, str]) -> None:
    FIGURES["stack_start_s"] = round(compose_up(stack), 1)
    admin = {"Authorization": f"Bearer {stack['LATENTCT_ADMIN_TOKEN']}"}
    replicas = {name: f"http://{container_ip(CONTAINER[name])}:8000" for name in ("app1", "app2")}
    with httpx.Client(base_url=proxy_url(stack), timeout=60) as proxy:
        page = proxy.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"] and "LatentCT" in page.text
        models = proxy.get("/api/models").json()
        gan = next(m for m in models if m["kind"] == "gan")
        direction_set = gan["direction_sets"][0]["id"]
        image = proxy.get(f"/api/models/{gan['id']}/image.png", params={"seed": 7})
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        strip = proxy.get(f"/api/models/{gan['id']}/traversal.png",
                          params={"seed": 7, "set": direction_set, "direction": 0, "steps": 5})
        assert strip.status_code == 200 and strip.content.startswith(b"\x89PNG")
        assert len(strip.headers["X-Shift-Values"].split(",")) == 5

        # labels: an annotator made through the proxy, labels written through one replica, read through the other
        term = proxy.get("/api/vocabulary").json()[0]["id"]
        created = proxy.post("/api/annotators", json={"name": "Dr CI", "role": "annotator"}, headers=admin)
        assert created.status_code == 201, created.text
        annotator = {"Authorization": f"Bearer {created.json()['token']}"}
        acknowledged: dict[int, int] = {}  # label id -> direction
        refused: list[str] = []  # writes not acknowledged
        slowest = {"write": 0.0}

        def label(client: httpx.Client | None, base: str, direction: int) -> int | None:
            body = {"model": gan["id"], "set": direction_set, "direction": direction, "term": term,
                    "text": f"ci {direction}", "confidence": 3, "polarity": "larger"}
            sent = time.monotonic()
            try:
                response = (client or proxy).post(f"{base}/api/labels", json=body, headers=annotator)
            except httpx.HTTPError as error:
                refused.append(repr(error))
                return None
            if response.status_code != 201:
                refused.append(f"{response.status_code} {response.text[:200]}")
                return None
            slowest["write"] = max(slowest["write"], time.monotonic() - sent)
            acknowledged[response.json()["id"]] = direction
            return int(response.json()["id"])

        for writer, reader in (("app1", "app2"), ("app2", "app1")):
            with httpx.Client(timeout=60) as direct:
                written = label(direct, replicas[writer], 0 if writer == "app1" else 1)
                assert written is not None, f"label write through {writer} failed"
                seen = direct.get(f"{replicas[reader]}/api/labels", params={"model": gan["id"]}, headers=annotator)
                assert seen.status_code == 200 and written in [row["id"] for row in seen.json()], reader
        assert label(None, "", 2) is not None

        # one replica killed: the proxy keeps serving images, strips and label writes
        run(PODMAN, "kill", CONTAINER["app1"])
        killed_at = time.monotonic()
        failures: list[tuple[int, int]] = []
        slowest.update(image=0.0, write=0.0)
        for seed in range(100, 120):
            sent = time.monotonic()
            response = proxy.get(f"/api/models/{gan['id']}/image.png", params={"seed": seed})
            slowest["image"] = max(slowest["image"], time.monotonic() - sent)
            if response.status_code != 200:
                failures.append((seed, response.status_code))
            label(None, "", 3 + seed % 4)
        strip = proxy.get(f"/api/models/{gan['id']}/traversal.png", params={"seed": 1, "set": direction_set, "direction": 1})
        assert failures == [] and strip.status_code == 200, failures
        FIGURES["one_replica_down"] = {"requests": 41, "seconds": round(time.monotonic() - killed_at, 1),
                                       **{f"slowest_{k}_s": round(v, 2) for k, v in slowest.items()},
                                       "writes_refused": refused}
        assert refused == [], f"label writes through the proxy failed with a replica down: {refused}"
        assert max(slowest.values()) < 10, f"failover to the live replica took {slowest} s (proxy_connect_timeout)"

    # the whole stack restarted (PostgreSQL's volume kept): every acknowledged label is still there
    run(PODMAN_COMPOSE, "-p", PROJECT, "-f", str(REPO / "docker-compose.yml"), "down", "-t", "45", env=stack,
        timeout=300)
    FIGURES["stack_restart_s"] = round(compose_up(stack), 1)
    with httpx.Client(base_url=proxy_url(stack), timeout=60) as proxy:
        stored = proxy.get("/api/labels", params={"model": gan["id"], "limit": 1000}, headers=admin)
        assert stored.status_code == 200
        kept = {row["id"]: row["direction"] for row in stored.json()}
        missing = {i: d for i, d in acknowledged.items() if kept.get(i) != d}
        assert missing == {}, f"acknowledged labels lost in the restart: {missing}"
        FIGURES["labels_acknowledged_and_kept"] = len(acknowledged)
