"""CLI: `latentct serve` runs the rendering service (and the label API) with uvicorn."""

from __future__ import annotations

import os
import signal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from latentct.core.errors import InvalidInputError

if TYPE_CHECKING:
    from latentct.core.config import Settings

APP_FACTORY = "latentct.api.app:create_app"
UVICORN_WS_MAX_BYTES = 1024 * 1024  # live-socket messages are a few hundred bytes


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def serve(
    host: Annotated[str | None, typer.Option(help="interface to bind (default 127.0.0.1, or LATENTCT_HOST)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="TCP port (default 8000, or LATENTCT_PORT)")] = None,
    models_dir: Annotated[
        Path | None,
        typer.Option(help="folder of model folders (default: the shipped demo models in models/, or LATENTCT_MODELS_DIR)"),
    ] = None,
    device: Annotated[Device | None, typer.Option(help="auto picks CUDA when torch sees a GPU (or LATENTCT_DEVICE)")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="server processes, each with its own models and engine (default 1)")
    ] = None,
    compile: Annotated[
        bool | None, typer.Option("--compile/--no-compile", help="torch.compile the generators for the CPU path")
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option("--access-log/--no-access-log", help="log one line per request (default off, or LATENTCT_ACCESS_LOG)"),
    ] = None,
    cpu_threads: Annotated[
        int | None,
        typer.Option(min=0, max=256, help="torch threads per engine thread; 0: CPU (cores/workers - 1)/engine threads, GPU 1"),
    ] = None,
    engine_threads: Annotated[
        int | None,
        typer.Option(min=0, max=64, help="CPU: batches computed at once per process, each in its own thread; 0: 2 if a "
                     "process has 2 or more cores, else 1"),
    ] = None,
) -> None:
    """Serve the models over the REST contract (docs/api.md) and the web app. Ctrl-C stops gracefully."""
    settings = _checked_settings({
        "host": host, "port": port, "models_dir": models_dir, "device": device.value if device else None,
        "workers": workers, "compile": compile, "cpu_threads": cpu_threads, "engine_threads": engine_threads,
        "access_log": access_log,
    })
    typer.echo(
        f"serving {settings.models_dir.resolve()} on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s), device {settings.device}); API docs at /docs"
    )
    _run_uvicorn(settings)


def _checked_settings(overrides: dict[str, object]) -> Settings:
    """The service settings with the CLI's values applied, checked before uvicorn starts."""
    from pydantic import ValidationError

    from latentct.core.config import Settings
    from latentct.labels.tokens import check_admin_token

    # Settings travel to worker processes through the environment: the CLI's values win over LATENTCT_* already set
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"LATENTCT_{name.upper()}"] = str(value if not isinstance(value, bool) else int(value))
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInputError(f"bad setting (command line or LATENTCT_* environment): {problems}") from None
    # refused here, before uvicorn, so a weak admin token is one `error:` line rather than a lifespan traceback
    check_admin_token(settings.admin_token)
    if not settings.models_dir.is_dir():
        raise InvalidInputError(f"models dir {str(settings.models_dir)!r} does not exist; train models or pass --models-dir")
    os.environ["LATENTCT_MODELS_DIR"] = str(settings.models_dir.resolve())
    return settings


def _run_uvicorn(settings: Settings) -> None:
    """uvicorn on the app factory (each worker process builds its own app), until it is stopped."""
    import uvicorn

    from latentct.api.http_protocol import BoundedHeadersProtocol

    # uvicorn re-raises the SIGTERM it captured once its graceful shutdown is done; a no-op handler receives it, so
    # an orderly stop (docker stop, systemd) ends with exit status 0 instead of death by signal (143).
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=settings.access_log,
        log_config=_log_config(settings.log_level),
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s) or None,
        ws_max_size=UVICORN_WS_MAX_BYTES,
        http=BoundedHeadersProtocol,  # httptools, with the request head bounded (LATENTCT_MAX_HEADER_BYTES)
        proxy_headers=False,
    )


def _log_config(level: str) -> dict[str, object]:
    """uvicorn's logging, plus our own `latentct.*` loggers (warnings about models and the database) with a timestamp."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["latentct"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(asctime)s %(levelprefix)s %(name)s: %(message)s",
        "use_colors": False,
    }
    config["handlers"]["latentct"] = {"formatter": "latentct", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    config["loggers"]["latentct"] = {"handlers": ["latentct"], "level": str(level).upper(), "propagate": False}
    return config


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("serve")(serve)
