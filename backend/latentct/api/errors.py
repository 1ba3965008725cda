"""The only place domain errors become HTTP statuses; every error body is JSON `{"detail": ...}`.

InvalidInputError 422 (uploads: empty/corrupt 400, too large 413, unsupported 415), NotFoundError 404,
OverloadedError / NotReadyError / LabelStoreUnavailableError 503 with Retry-After, AuthenticationError 401 with
WWW-Authenticate, PermissionDeniedError 403, ConflictError 409, ArtifactError 503 (files changed under a running
server). Request validation failures are 422 with a message naming the parameter. The catch-all 500 exists for bugs
only: no input is meant to reach it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from latentct.core.errors import ArtifactError, InvalidInputError, LatentCTError, NotFoundError, OverloadedError
from latentct.labels.errors import (
    AuthenticationError,
    ConflictError,
    LabelStoreUnavailableError,
    PermissionDeniedError,
)
from latentct.rendering.errors import (
    CorruptUploadError,
    EmptyUploadError,
    NotReadyError,
    UnsupportedUploadError,
    UploadTooLargeError,
    public_detail,
)

log = logging.getLogger(__name__)

_LOCATION_NAMES = {
    "query": "query parameter", "path": "path parameter", "body": "body field", "header": "header", "message": "message field"
}
_MAX_INPUT_CHARS = 80


def encodable(value: Any) -> Any:
    """`value` with every string UTF-8-encodable: a lone surrogate sent by a client must not break the error itself."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encodable(v) for v in value]
    return value


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(encodable({"detail": detail, **extra}), status_code=status, headers=headers)


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _bearer_challenge(exc: AuthenticationError) -> str:
    """RFC 6750 section 3: a bare challenge when no token came, `invalid_token` when the one sent was refused."""
    return 'Bearer error="invalid_token"' if exc.token_given else "Bearer"


def _where(loc: Sequence[Any]) -> str:
    if not loc:
        return "request"
    kind, *path = loc
    if kind in ("body", "message") and not path:
        return "request body" if kind == "body" else "message"
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return f"{_LOCATION_NAMES.get(str(kind), str(kind))} {name!r}"


def _shown_input(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_INPUT_CHARS else text[: _MAX_INPUT_CHARS - 3] + "..."


def describe_validation_error(error: dict[str, Any], subject: str = "body") -> str:
    """One line naming the parameter, what is wrong and the value given.

    `subject` "body" reads FastAPI's locations (("query", "seed"), ("body", "latent", 3)); "message" prefixes the
    location of a model validated on its own (a WebSocket message).
    """
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    if subject == "message":
        loc = ("message", *loc)
    where = _where(loc)
    what = "the request body" if subject == "body" else "the message"
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        return f"{what} is not valid JSON ({reason})".replace(" ()", "")
    if kind in ("model_attributes_type", "dict_type", "model_type") and where in ("request body", "message"):
        return f"{what} must be a JSON object" + (" (Content-Type: application/json)" if subject == "body" else "")
    message = str(error.get("msg", "invalid value"))
    if kind == "missing":
        return f"{where} is required"
    if "input" in error and kind != "extra_forbidden":
        return f"{where}: {message}; got {_shown_input(error['input'])}"
    return f"{where}: {message}"


def _safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors reduced to JSON-safe fields (ctx may hold exception objects, input raw bytes)."""
    return [{"type": str(e.get("type")), "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
             "msg": str(e.get("msg"))} for e in errors]


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    message = "; ".join(describe_validation_error(e) for e in errors[:5]) or "invalid request"
    return error_response(422, message, errors=_safe_errors(errors))


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    return domain_error_response(exc)


def domain_error_response(exc: Exception) -> JSONResponse:
    """LatentCTError subclasses by status (also answers the image fast path's errors, api/fast_image.py)."""
    if isinstance(exc, (OverloadedError, NotReadyError, LabelStoreUnavailableError)):
        return error_response(503, str(exc), retry_after(exc.retry_after_s))
    if isinstance(exc, AuthenticationError):
        return error_response(401, str(exc), {"WWW-Authenticate": _bearer_challenge(exc)})
    if isinstance(exc, PermissionDeniedError):
        return error_response(403, str(exc))
    if isinstance(exc, ConflictError):
        return error_response(409, str(exc))
    if isinstance(exc, UploadTooLargeError):
        return error_response(413, str(exc))
    if isinstance(exc, UnsupportedUploadError):
        return error_response(415, str(exc))
    if isinstance(exc, (EmptyUploadError, CorruptUploadError)):
        return error_response(400, str(exc))
    if isinstance(exc, InvalidInputError):
        return error_response(422, str(exc))
    if isinstance(exc, NotFoundError):
        return error_response(404, str(exc))
    if isinstance(exc, ArtifactError):
        log.error("artifact error while serving: %s", exc)
        return error_response(503, f"model files are unavailable: {public_detail(str(exc))}", retry_after(30))
    return error_response(400, str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, f"internal error ({type(exc).__name__}); this is a bug, please report it")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(LatentCTError, _domain)
    app.add_exception_handler(Exception, _unexpected)
