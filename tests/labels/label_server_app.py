"""A small server for the label tests: the labels router over a file-backed catalog and the store from the env.

Run as `python -m uvicorn --factory --app-dir tests/labels label_server_app:create_app`; the catalog comes from
the JSON file named by LABEL_TEST_CATALOG, the database and admin token from LATENTCT_* like the real server.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from latentct.api.errors import install_error_handlers
from latentct.api.routes.labels import router
from latentct.artifacts.catalog import SetIdentity
from latentct.core.config import Settings
from latentct.core.errors import NotFoundError
from latentct.labels.store import LabelStore, open_label_store


class FixedCatalog:
    """DirectionCatalog over a fixed list of set identities."""

    def __init__(self, identities: Iterable[SetIdentity]) -> None:
        self._identities = {(identity.model_id, identity.set_id): identity for identity in identities}

    def direction_set_identity(self, model_id: str, set_id: str) -> SetIdentity:
        identity = self._identities.get((model_id, set_id))
        if identity is None:
            if not any(known_model == model_id for known_model, _ in self._identities):
                raise NotFoundError(f"model {model_id!r} does not exist")
            raise NotFoundError(f"direction set {set_id!r} of model {model_id!r} does not exist")
        return identity

    def to_json(self) -> str:
        return json.dumps([vars(identity) for identity in self._identities.values()])

    @classmethod
    def from_file(cls, path: Path) -> FixedCatalog:
        return cls(SetIdentity(**entry) for entry in json.loads(path.read_text()))


def _label_app(**kwargs: Any) -> FastAPI:
    """The label routes as the real app serves them: under /api, with the app's error handlers giving the statuses."""
    app = FastAPI(**kwargs)
    install_error_handlers(app)
    app.include_router(router, prefix="/api")
    return app


def build_app(store: LabelStore, catalog: FixedCatalog) -> FastAPI:
    app = _label_app()
    app.state.label_store = store
    app.state.registry = catalog
    return app


def create_app() -> FastAPI:
    catalog = FixedCatalog.from_file(Path(os.environ["LABEL_TEST_CATALOG"]))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_label_store(Settings())
        app.state.label_store = store
        yield
        store.close()

    app = _label_app(lifespan=lifespan)
    app.state.registry = catalog
    return app
