"""docker-compose.yml and the GPU override, parsed with PyYAML and checked for what the deployment promises
(no Docker engine or compose plugin runs on this machine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from latentct.core.config import Settings
from tests.deploy.deployfiles import REPO, dockerfile_env, interpolate, read_dockerfile

REPLICAS = ("app1", "app2")
DEPLOYER_ENV = {"LATENTCT_ADMIN_TOKEN": "jGpSDuLXh9ui2ouTvkZYdHTAxSXMCqBWwosTIRefktg"}


def load_compose(path: Path, environment: dict[str, str] | None = None) -> dict[str, Any]:
    text = interpolate(path.read_text(), DEPLOYER_ENV if environment is None else environment)
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def merge(base: Any, override: Any) -> Any:
    """Compose's merge of an override file: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {key: merge(base[key], override[key]) if key in base and key in override else override.get(key, base.get(key))
                for key in {**base, **override}}
    return override


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(REPO / "docker-compose.yml")


@pytest.fixture(scope="module")
def gpu_compose(compose: dict[str, Any]) -> dict[str, Any]:
    merged = merge(compose, load_compose(REPO / "deploy" / "gpu.yml"))
    assert isinstance(merged, dict)
    return merged


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping"
    return {k: str(v) for k, v in environment.items()}


def test_the_admin_token_must_be_given() -> None:
    with pytest.raises(KeyError, match="LATENTCT_ADMIN_TOKEN"):
        load_compose(REPO / "docker-compose.yml", environment={})


def test_two_replicas_of_the_image_share_one_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", *REPLICAS, "proxy"}
    urls = {_env(services[name])["LATENTCT_DATABASE_URL"] for name in REPLICAS}
    assert len(urls) == 1
    url = urls.pop()
    assert url.startswith("postgresql+psycopg://") and "@db:5432/" in url
    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert url.endswith("/" + db["environment"]["POSTGRES_DB"])
    assert f"{db['environment']['POSTGRES_USER']}:{db['environment']['POSTGRES_PASSWORD']}@" in url
    for name in REPLICAS:
        app = services[name]
        assert app["build"] == {"context": ".", "args": {"BASE_IMAGE": "python:3.11-slim"}} and (REPO / "Dockerfile").is_file()
        assert app["image"] == "latentct:latest"
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        assert app["restart"] == "unless-stopped"


def test_postgresql_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["db"]["volumes"]
    named = [m.split(":")[0] for m in mounts if m.split(":")[1] == "/var/lib/postgresql/data"]
    assert named and named[0] in compose["volumes"] and not named[0].startswith((".", "/"))
    assert "pg_isready" in " ".join(compose["services"]["db"]["healthcheck"]["test"])


def test_models_are_mounted_read_only_where_the_image_expects_them(compose: dict[str, Any]) -> None:
    models_dir = dockerfile_env(read_dockerfile())["LATENTCT_MODELS_DIR"]
    for name in REPLICAS:
        mounts = compose["services"][name]["volumes"]
        assert f"./models:{models_dir}:ro" in mounts
        assert all(m.endswith(":ro") for m in mounts if m.split(":")[1].startswith("/app"))


def test_replicas_report_readiness_and_outlive_the_grace_period(compose: dict[str, Any]) -> None:
    for name in REPLICAS:
        app = compose["services"][name]
        assert app["healthcheck"]["test"] == ["CMD", "python", "-m", "latentct.healthcheck", "--ready"]
        assert _seconds(app["healthcheck"]["start_period"]) >= 60
        grace = _seconds(app["stop_grace_period"])
        shutdown = float(_env(app)["LATENTCT_SHUTDOWN_TIMEOUT_S"])
        assert grace > shutdown, "Docker would SIGKILL before the server's own graceful shutdown ends"
        assert app["init"] is True


def test_every_latentct_variable_is_a_valid_setting(compose: dict[str, Any], gpu_compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for document in (compose, gpu_compose):
        for name in REPLICAS:
            env = _env(document["services"][name])
            names = {k.removeprefix("LATENTCT_").lower() for k in env if k.startswith("LATENTCT_")}
            assert names <= fields, names - fields
            settings = Settings(**{k.removeprefix("LATENTCT_").lower(): _setting_value(v) for k, v in env.items()})
            assert settings.cors_origins == [] and settings.admin_token == DEPLOYER_ENV["LATENTCT_ADMIN_TOKEN"]
            assert settings.resolved_database_url() == env["LATENTCT_DATABASE_URL"]


def test_the_proxy_fronts_both_replicas(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    assert (REPO / "deploy" / "nginx.conf").is_file()
    assert {name: dep["condition"] for name, dep in proxy["depends_on"].items()} == dict.fromkeys(REPLICAS, "service_healthy")
    assert [p.split(":")[-1] for p in proxy["ports"]] == ["80"]
    assert all("ports" not in compose["services"][name] for name in (*REPLICAS, "db")), "only the proxy is published"


def test_the_gpu_override_reserves_an_nvidia_device_per_replica(gpu_compose: dict[str, Any]) -> None:
    for name in REPLICAS:
        app = gpu_compose["services"][name]
        devices = app["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
        env = _env(app)
        assert env["LATENTCT_DEVICE"] == "cuda" and env["LATENTCT_WORKERS"] == "4"  # one event loop cannot feed a GPU
        assert env["LATENTCT_DATABASE_URL"].startswith("postgresql+psycopg://")  # the override keeps the rest
        assert app["volumes"] == ["./models:/app/models:ro"]


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]]


def _setting_value(value: str) -> Any:
    return json.loads(value) if value.startswith("[") else value


def test_local_images_replace_the_registry_ones_through_variables() -> None:
    """Without a registry: the app's base, the app image, PostgreSQL and nginx named by variables (built locally from
    deploy/postgres and deploy/nginx on the Debian base; tests/deploy/test_containers.py runs them)."""
    local = {**DEPLOYER_ENV, "LATENTCT_BASE_IMAGE": "localhost/debian-base:bookworm", "LATENTCT_IMAGE": "localhost/latentct:ci",
             "LATENTCT_POSTGRES_IMAGE": "localhost/latentct-postgres:15", "LATENTCT_NGINX_IMAGE": "localhost/latentct-nginx:1.22"}
    services = load_compose(REPO / "docker-compose.yml", local)["services"]
    for name in REPLICAS:
        assert services[name]["build"]["args"]["BASE_IMAGE"] == local["LATENTCT_BASE_IMAGE"]
        assert services[name]["image"] == local["LATENTCT_IMAGE"]
    assert services["db"]["image"] == local["LATENTCT_POSTGRES_IMAGE"]
    assert services["proxy"]["image"] == local["LATENTCT_NGINX_IMAGE"]


def test_the_local_postgresql_image_behaves_like_the_official_one_where_compose_relies_on_it(compose: dict[str, Any]) -> None:
    containerfile = (REPO / "deploy" / "postgres" / "Containerfile").read_text()
    entrypoint = (REPO / "deploy" / "postgres" / "entrypoint.sh").read_text()
    data = next(m.split(":")[1] for m in compose["services"]["db"]["volumes"] if m.startswith("pgdata:"))
    assert f'VOLUME ["{data}"]' in containerfile and f"PGDATA={data}" in containerfile
    assert "ARG BASE_IMAGE=" in containerfile and "USER postgres" in containerfile
    assert "STOPSIGNAL SIGINT" in containerfile  # fast shutdown: SIGTERM would wait for the replicas' pooled connections
    for variable in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert variable in entrypoint and variable in compose["services"]["db"]["environment"]
    assert "scram-sha-256" in entrypoint and "listen_addresses = '*'" in entrypoint
    assert (REPO / "deploy" / "postgres" / "entrypoint.sh").stat().st_mode & 0o111, "the entrypoint is executable"
    assert "/usr/lib/postgresql/15/bin" in containerfile  # pg_isready (the compose health check) on PATH


def test_the_local_nginx_image_serves_the_site_the_compose_file_mounts(compose: dict[str, Any]) -> None:
    containerfile = (REPO / "deploy" / "nginx" / "Containerfile").read_text()
    assert "ARG BASE_IMAGE=" in containerfile and "nginx-light" in containerfile
    assert "rm -f /etc/nginx/sites-enabled/default" in containerfile  # only conf.d/default.conf (the mounted site)
    assert "wget" in " ".join(compose["services"]["proxy"]["healthcheck"]["test"]) and " wget" in containerfile
    assert 'CMD ["nginx", "-g", "daemon off;"]' in containerfile
