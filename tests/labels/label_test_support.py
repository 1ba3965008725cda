"""Shared helpers of the label tests: fixed set identities, store construction, an in-thread uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import Engine

from latentct.artifacts.catalog import SetIdentity
from latentct.labels.db import alembic_config, create_label_engine
from latentct.labels.store import LabelStore
from latentct.labels.vocabulary import load_vocabulary

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN_TOKEN = "FRPDxa8mUACBVwF3w9Ud2LVFGzSBKSDdoPwp0DJLDcs"

IDENTITY = SetIdentity("gan_demo", "a" * 64, "sefa", "b" * 64, 8)
RETRAINED = SetIdentity("gan_demo", "a" * 64, "sefa", "c" * 64, 8)  # same ids, new direction matrix
OTHER = SetIdentity("vae_demo", "d" * 64, "pca", "e" * 64, 4)


def make_store(database_url: str, admin_token: str | None = ADMIN_TOKEN) -> LabelStore:
    store = LabelStore(create_label_engine(database_url), load_vocabulary(), admin_token=admin_token)
    store.initialize()
    return store


def revisions_up_to(engine: Engine, head: str | None) -> list[str]:
    """The revision ids from `head` down to the first migration (other engineers may add revisions above ours)."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    return [script.revision for script in scripts.walk_revisions("base", head or "heads")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Run `app` with uvicorn on a free port in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
