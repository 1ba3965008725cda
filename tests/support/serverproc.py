"""`latentct serve` as a real subprocess: start, wait for readiness, inspect, stop.

The one server-process helper of the tests and benchmarks (tests/hardening, tests/deploy, tests/e2e, tests/labels,
tests/commands/test_serve.py, bench/). The server gets an environment of its own (LATENTCT_* of the caller are
dropped, so a developer's settings never leak into a test), logs to a file, and exposes what /proc says about it
(resident memory, threads, open descriptors) for leak checks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

ADMIN_TOKEN = "D7igyo93wSxzY8rNxl5-B8TgmQQoV0fA4q3ee4zJa1Y"
READY_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def latentct_command() -> list[str]:
    """The console script next to this interpreter (what the image's CMD runs), else `python -m latentct.cli`."""
    script = Path(sys.executable).with_name("latentct")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "latentct.cli"]


def clean_environ() -> dict[str, str]:
    """os.environ without any LATENTCT_* setting of the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LATENTCT_")}


def server_env(models_dir: Path, data_dir: Path, port: int, **settings: Any) -> dict[str, str]:
    """Environment for a test server: CPU, one torch thread, float32, plus `settings` as LATENTCT_<NAME>."""
    env = clean_environ()
    env.update({
        "LATENTCT_MODELS_DIR": str(models_dir),
        "LATENTCT_DATA_DIR": str(data_dir),
        "LATENTCT_PORT": str(port),
        "LATENTCT_HOST": "127.0.0.1",
        "LATENTCT_DEVICE": "cpu",
        "LATENTCT_CPU_THREADS": "1",
        "LATENTCT_HALF_PRECISION": "off",
    })
    for name, value in settings.items():
        env[f"LATENTCT_{name.upper()}"] = str(value)
    return env


class ServerProcess:
    """One `latentct serve` process; `command` defaults to the console script with `serve`."""

    def __init__(
        self, env: Mapping[str, str], log_path: Path, command: Sequence[str] | None = None, *,
        cwd: Path | None = None, new_session: bool = False,
    ) -> None:
        self.env = dict(env)
        self.port = int(self.env["LATENTCT_PORT"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.command = list(command) if command is not None else [*latentct_command(), "serve"]
        self.cwd = cwd
        self.new_session = new_session  # its own process group: kill_group() then reaches uvicorn's workers too
        self.process: subprocess.Popen[bytes] | None = None

    # lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.cwd, start_new_session=self.new_session)
        return self

    def start_ready(self, timeout_s: float = READY_TIMEOUT_S) -> ServerProcess:
        """start() and wait_ready(); a server that does not become ready is stopped before the error propagates."""
        self.start()
        try:
            return self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise

    def wait_listening(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until /api/health answers (the process is alive and serving, models maybe still loading)."""
        self._wait_for(lambda client: client.get("/api/health").status_code == 200, timeout_s, "listening")

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> ServerProcess:
        return self.wait_answering("/api/ready", timeout_s)

    def wait_answering(self, path: str, timeout_s: float = READY_TIMEOUT_S) -> ServerProcess:
        """Until GET `path` answers 200 (a server without /api/ready, such as a benchmark's naive baseline)."""
        self._wait_for(lambda client: client.get(path).status_code == 200, timeout_s, f"answering {path}")
        return self

    def _wait_for(self, probe: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.returncode is not None:
                    raise RuntimeError(f"server exited with {self.returncode} before it was {what}:\n{self.log()}")
                with contextlib.suppress(httpx.TransportError):
                    if probe(client):
                        return
                time.sleep(0.05)
        raise RuntimeError(f"server on port {self.port} not {what} after {timeout_s} s:\n{self.log()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout_s: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not end in time. Returns the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def kill(self) -> int:
        """SIGKILL (a crash: no shutdown code runs) and reap."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(30)

    def kill_group(self) -> None:
        """SIGKILL the whole process group (started with new_session=True): the server and every worker it spawned."""
        assert self.process is not None and self.new_session
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # inspection -------------------------------------------------------------------------------------------------

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def proc_status(self, field: str) -> int:
        """A numeric field of /proc/<pid>/status (VmRSS in KiB, Threads)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise KeyError(field)

    def rss_kib(self) -> int:
        return self.proc_status("VmRSS")

    def threads(self) -> int:
        return self.proc_status("Threads")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=kwargs.pop("timeout", 30), **kwargs)


@contextlib.contextmanager
def running(env: Mapping[str, str], log_path: Path, command: Sequence[str] | None = None) -> Iterator[ServerProcess]:
    """A ready server for the body of the with-statement, stopped afterwards."""
    server = ServerProcess(env, log_path, command).start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_annotator(client: httpx.Client, name: str, role: str = "annotator", admin_token: str = ADMIN_TOKEN) -> str:
    """Create an annotator through the API with the admin token; returns its bearer token."""
    response = client.post("/api/annotators", json={"name": name, "role": role}, headers=bearer(admin_token))
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def raw_request(port: int, request_line: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> tuple[int, bytes]:
    """Send one request exactly as written (no URL normalisation by a client library); returns (status, body)."""
    head = [request_line, "Host: 127.0.0.1", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        head.append(f"Content-Length: {len(body)}")
    payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    status_line, _, rest = response.partition(b"\r\n")
    _, _, body_out = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), body_out
