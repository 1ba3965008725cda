"""The image's CMD and HEALTHCHECK (readiness), run outside a container with the image's environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import image_environment
from tests.deploy.deployfiles import Instruction, read_dockerfile
from tests.support.serverproc import ServerProcess, free_port


def healthcheck_command() -> list[str]:
    healthcheck = next(i for i in read_dockerfile() if i.keyword == "HEALTHCHECK")
    _, rest = healthcheck.flags_and_rest()
    command = Instruction("CMD", rest.removeprefix("CMD "), healthcheck.line).exec_form()
    assert command is not None, "HEALTHCHECK in exec form"
    return command


def run_healthcheck(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*healthcheck_command(), *extra], env=env, capture_output=True, text=True, timeout=60)


def test_the_image_command_serves_the_api_and_the_web_app(image_server: ServerProcess) -> None:
    with image_server.client() as client:
        ready = client.get("/api/ready")
        assert ready.status_code == 200 and ready.json()["models"] == ["tiny-gan", "tiny-vae"]
        assert client.get("/api/models/tiny-gan/image.png").content.startswith(b"\x89PNG")
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"] and "LatentCT" in page.text
        assert "not installed here" not in page.text  # the web app itself, not the fallback page
        assert client.get("/api/vocabulary").status_code == 200  # the label store opened under LATENTCT_DATA_DIR
    assert f"on http://0.0.0.0:{image_server.port}" in image_server.log()
    assert (Path(image_server.env["LATENTCT_DATA_DIR"]) / "labels.sqlite3").is_file()


def test_healthcheck_passes_against_the_running_image(image_server: ServerProcess) -> None:
    assert healthcheck_command() == ["python", "-m", "latentct.healthcheck", "--ready"]  # readiness
    ready = run_healthcheck(image_server.env)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert ready.stdout.strip() == f"http://127.0.0.1:{image_server.port}/api/ready: ok"
    live = subprocess.run(["python", "-m", "latentct.healthcheck"], env=image_server.env, capture_output=True, text=True,
                          timeout=60)  # liveness, for an orchestrator that restarts on it
    assert live.returncode == 0 and live.stdout.strip().endswith("/api/health: ok"), live


def test_healthcheck_fails_without_a_server(tmp_path: Path) -> None:
    env = image_environment(tmp_path / "models", tmp_path / "data", free_port())  # nothing listens on that port
    for extra in ((), ("--ready",)):
        result = run_healthcheck(env, *extra)
        assert result.returncode == 1 and result.stdout.strip().endswith("unhealthy"), result
    usage = run_healthcheck(env, "--bogus")
    assert usage.returncode == 2 and "usage" in usage.stderr


@pytest.mark.parametrize(("variables", "expected"), [
    ({"LATENTCT_HOST": "0.0.0.0", "LATENTCT_PORT": "9001"}, "http://127.0.0.1:9001"),
    ({"LATENTCT_HOST": "::", "LATENTCT_PORT": "9001"}, "http://127.0.0.1:9001"),
    ({"LATENTCT_HOST": "10.1.2.3"}, "http://10.1.2.3:8000"),
    ({"LATENTCT_HOST": "fd00::5", "LATENTCT_PORT": "80"}, "http://[fd00::5]:80"),
    ({"LATENTCT_HEALTH_BASE_URL": "http://app1:8000/", "LATENTCT_PORT": "1"}, "http://app1:8000"),
])
def test_healthcheck_finds_the_server_where_the_settings_put_it(variables: dict[str, str], expected: str) -> None:
    from latentct.healthcheck import base_url

    assert base_url(variables) == expected
