"""Typed settings for the service and the CLI, read from `LATENTCT_*` environment variables; built on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]


def default_models_dir() -> Path:
    """The shipped demo models: `models/` of a source checkout, else `./models`."""
    shipped = REPO_ROOT / "models"
    return shipped if shipped.is_dir() else Path("models")


class Settings(BaseSettings):
    """Everything a deployer can configure. Build with `Settings()`; never at import time."""

    model_config = SettingsConfigDict(env_prefix="LATENTCT_", env_file=None, extra="ignore")

    # serving
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    models_dir: Path = Field(default_factory=default_models_dir)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    half_precision: Literal["auto", "on", "off"] = "auto"
    compile: bool = False
    cpu_threads: int = Field(
        0, ge=0, le=256, description="torch threads per engine thread; 0: CPU (cores / workers - 1) / engine threads, GPU 1"
    )

    # inference engine
    queue_size: int = Field(256, ge=1, le=100_000)
    max_batch: int = Field(64, ge=1, le=4096)
    batch_wait_ms: float = Field(2.0, ge=0.0, le=1000.0)
    render_budget_mpx: int = Field(
        384, ge=1, le=1_000_000,
        description="output Mpx (2^20 pixels, frames x pixels) rendered and encoded at once; more get 503",
    )
    engine_threads: int = Field(
        0, ge=0, le=64, description="CPU: worker threads computing batches at once; 0: 2 if a process has 2+ cores, else 1"
    )

    # request limits
    max_upload_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_header_bytes: int = Field(
        64 * 1024, ge=1024, le=16 * 1024 * 1024, description="request line + headers; larger heads get 431"
    )
    cors_origins: list[str] = Field(default_factory=list)

    # rendering service extras (added by the serving area, issue 5)
    frontend_dir: Path = Field(
        default_factory=lambda: REPO_ROOT / "frontend", description="web app: templates/index.html and static/"
    )
    response_cache_mb: int = Field(64, ge=0, le=65536, description="rendered images kept per process by ETag; 0 disables")
    max_concurrent_encodes: int = Field(2, ge=1, le=64, description="encode requests running at once; more get 503")
    shutdown_timeout_s: float = Field(30.0, ge=0.0, le=3600.0, description="grace period for in-flight requests")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = Field(False, description="one log line per request (off: a slider drag is hundreds of requests)")

    # labels
    data_dir: Path = Path("var")
    database_url: str | None = None
    admin_token: str | None = None
    vocabulary_file: Path | None = None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labels.sqlite3').resolve()}"
