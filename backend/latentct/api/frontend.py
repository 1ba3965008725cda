"""The web app: GET / renders frontend/templates/index.html (jinja2) and /static serves frontend/static/."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from latentct import INTENDED_USE, __version__

FALLBACK_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LatentCT</title></head>
<body><h1>LatentCT</h1><p>The web app is not installed here (no frontend/templates/index.html).
The API is at <a href="/api/models">/api/models</a>; its documentation at <a href="/docs">/docs</a>.</p>
<p>{INTENDED_USE}.</p></body></html>
"""


def mount_frontend(app: FastAPI, frontend_dir: Path) -> None:
    """Mount what exists under `frontend_dir`; without a template, / explains where the API is."""
    static_dir = Path(frontend_dir) / "static"
    templates_dir = Path(frontend_dir) / "templates"
    if static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=static_dir), name="static")
    templates = Jinja2Templates(directory=templates_dir) if (templates_dir / "index.html").is_file() else None

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def index(request: Request) -> Response:
        if templates is None:
            return HTMLResponse(FALLBACK_PAGE)
        context = {"api_base": "/api", "static_base": "/static", "version": __version__, "intended_use": INTENDED_USE}
        return templates.TemplateResponse(request, "index.html", context)
