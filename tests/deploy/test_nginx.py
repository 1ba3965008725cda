"""deploy/nginx.conf: its structure, `nginx -t`, and a real nginx proxying to a real server.

Structure is always checked. Where Debian's nginx is installed (`apt-get install nginx-light`), the file is also
checked by nginx itself and run: the compose service names are replaced by loopback ports (app1 -> the image
server, app2 -> a port where nothing listens, so failover is exercised too) and `listen 80` by a free port.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from latentct.api.limits import MULTIPART_OVERHEAD_BYTES
from latentct.core.config import Settings
from tests.deploy.deployfiles import REPO, dockerfile_env, read_dockerfile
from tests.support.serverproc import ServerProcess, free_port, raw_request

CONF = REPO / "deploy" / "nginx.conf"
MIB = 1024 * 1024
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx-light)")


@dataclass
class Directive:
    name: str
    args: list[str]
    children: list[Directive] = field(default_factory=list)

    def find(self, name: str) -> list[Directive]:
        return [c for c in self.children if c.name == name]

    def one(self, name: str) -> Directive:
        found = self.find(name)
        assert len(found) == 1, f"{self.name}: expected one {name}, found {len(found)}"
        return found[0]


def parse_nginx(text: str) -> Directive:
    """Directives and blocks of an nginx config (comments dropped, quoted strings kept whole)."""
    tokens = re.findall(r"'[^']*'|\"[^\"]*\"|[{};]|[^\s{};]+", re.sub(r"#[^\n]*", "", text))
    root = Directive("", [])
    stack, words = [root], []
    for token in tokens:
        if token == ";":
            stack[-1].children.append(Directive(words[0], words[1:]))
            words = []
        elif token == "{":
            block = Directive(words[0], words[1:])
            stack[-1].children.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token.strip("'\"") if token[0] in "'\"" else token)
    assert len(stack) == 1 and not words, "unbalanced braces or a missing semicolon"
    return root


def size_bytes(text: str) -> int:
    units = {"k": 1024, "m": MIB, "g": 1024 * MIB}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


@pytest.fixture(scope="module")
def conf() -> Directive:
    return parse_nginx(CONF.read_text())


def _setting(server: Directive, location: Directive, name: str) -> list[str]:
    """A directive's arguments where nginx takes them from: the location, else inherited from the server block."""
    found = location.find(name) or server.find(name)
    assert found, f"{name} is set neither in the location nor in the server block"
    return found[0].args


def test_upstream_holds_both_replicas(conf: Directive) -> None:
    port = dockerfile_env(read_dockerfile())["LATENTCT_PORT"]
    upstream = conf.one("upstream")
    assert [s.args[0] for s in upstream.find("server")] == [f"app1:{port}", f"app2:{port}"]
    assert upstream.find("keepalive")


def test_every_location_proxies_with_websocket_upgrade(conf: Directive) -> None:
    upstream = conf.one("upstream").args[0]
    server = conf.one("server")
    upgrade_map = conf.one("map")
    assert upgrade_map.args == ["$http_upgrade", "$connection_upgrade"]
    assert ["default", "upgrade"] in [[c.name, *c.args] for c in upgrade_map.children]
    locations = server.find("location")
    assert locations
    for location in locations:
        assert _setting(server, location, "proxy_pass") == [f"http://{upstream}"]
        assert _setting(server, location, "proxy_http_version") == ["1.1"]
        headers = {d.args[0]: d.args[1] for d in location.find("proxy_set_header") or server.find("proxy_set_header")}
        assert headers["Upgrade"] == "$http_upgrade" and headers["Connection"] == "$connection_upgrade"
        assert _setting(server, location, "proxy_buffering") == ["off"]  # streams frame by frame
    assert "non_idempotent" not in server.one("proxy_next_upstream").args, "a label POST must never be sent twice"
    # a replica's container gone: its address never answers, and each request would wait out the connect timeout
    assert _seconds(server.one("proxy_connect_timeout").args[0]) <= 5


def test_the_live_socket_location_matches_live_paths_only(conf: Directive) -> None:
    server = conf.one("server")
    regex_locations = [loc for loc in server.find("location") if loc.args[0] in ("~", "~*")]
    assert len(regex_locations) == 1
    live = re.compile(regex_locations[0].args[1])
    assert live.search("/api/models/phantom-dcgan/live")
    assert not live.search("/api/models/phantom-dcgan/image.png") and not live.search("/api/models/a/b/live")
    assert _seconds(regex_locations[0].one("proxy_read_timeout").args[0]) >= 600


def test_body_limit_fits_the_upload_limit(conf: Directive) -> None:
    limit = size_bytes(conf.one("server").one("client_max_body_size").args[0])
    upload = Settings.model_fields["max_upload_bytes"].default
    assert upload + MULTIPART_OVERHEAD_BYTES <= limit <= 2 * upload, (limit, upload)


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


# nginx itself --------------------------------------------------------------------------------------------------


def render_config(root: Path, app1_port: int, app2_port: int, listen_port: int) -> Path:
    site = CONF.read_text()
    site = site.replace("server app1:8000", f"server 127.0.0.1:{app1_port}")
    site = site.replace("server app2:8000", f"server 127.0.0.1:{app2_port}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    assert "app1" not in site and "app2" not in site and "listen 80;" not in site
    (root / "default.conf").write_text(site)
    temp = "\n".join(f"    {kind}_temp_path {root}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
{temp}
    include {root}/default.conf;
}}
"""
    (root / "nginx.conf").write_text(main)
    return root / "nginx.conf"


@needs_nginx
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    main = render_config(tmp_path, free_port(), free_port(), free_port())
    result = subprocess.run([str(NGINX), "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


@pytest.fixture(scope="module")
def proxy(image_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
    root = tmp_path_factory.mktemp("nginx")
    port = free_port()
    main = render_config(root, image_server.port, free_port(), port)
    process = subprocess.Popen([str(NGINX), "-p", str(root), "-c", str(main), "-e", str(root / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, (root / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


@needs_nginx
def test_requests_reach_a_live_replica_through_the_proxy(proxy: str) -> None:
    with httpx.Client(base_url=f"http://{proxy}", timeout=30) as client:
        for seed in range(6):  # app2 is down: nginx fails over to app1 every time
            response = client.get("/api/models/tiny-gan/image.png", params={"seed": seed})
            assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
        stream = client.get("/api/models/tiny-gan/traversal/stream", params={"set": "random", "direction": 0, "steps": 3,
                                                                            "fps": 30})
        assert stream.status_code == 200 and stream.content.endswith(b"--frame--\r\n")
        assert stream.headers["content-type"].startswith("multipart/x-mixed-replace")
        assert "nginx/" not in stream.headers.get("server", "")  # server_tokens off


@needs_nginx
def test_the_live_socket_upgrades_through_the_proxy(proxy: str) -> None:
    with connect(f"ws://{proxy}/api/models/tiny-gan/live") as live:
        live.send('{"seed": 3, "set": "random", "shifts": {"0": 2}}')
        frame = live.recv(timeout=30)
    assert isinstance(frame, bytes) and frame.startswith(b"\x89PNG")


@needs_nginx
def test_the_proxy_bounds_bodies_and_headers_and_lets_the_app_name_its_limit(proxy: str) -> None:
    _, port = proxy.split(":")
    with httpx.Client(base_url=f"http://{proxy}", timeout=60) as client:
        just_over = client.post("/api/models/tiny-vae/encode", files={"file": ("slice.npy", b"\x00" * (16 * MIB + 1))})
        assert just_over.status_code == 413 and "16 MiB" in just_over.json()["detail"]  # the app's JSON, not nginx's page
    status, _ = raw_request(int(port), "POST /api/models/tiny-vae/encode HTTP/1.1",
                            headers={"Content-Length": str(18 * MIB), "Content-Type": "application/octet-stream"})
    assert status == 413  # refused by nginx on the declared length, before a byte of the body is read
    status, _ = raw_request(int(port), "GET /api/health HTTP/1.1", headers={"X-Big": "y" * (64 * 1024)})
    assert status in (400, 431, 494)
