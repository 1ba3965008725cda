"""The route modules, one per resource, each an `APIRouter` named `router` (dependencies in api/deps.py, schemas in
api/schemas.py, errors mapped in api/errors.py). ROUTERS is the order they are mounted under /api, the order of the
OpenAPI document."""

from fastapi import APIRouter

from latentct.api.routes import encode, health, images, labels, live, local, models, nearest, studies, volumes

ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router for module in (health, models, images, live, encode, local, labels, volumes, studies, nearest)
)
