"""Domain errors of the label store."""

from __future__ import annotations

from latentct.errors import LatentCTError


class LabelStoreUnavailableError(LatentCTError):
    """The label database does not answer (down, restarting, locked past the busy timeout); retry later.

    The API maps it to 503 with `Retry-After: retry_after_s`; nothing was stored when it is raised.
    """

    def __init__(self, message: str, retry_after_s: float = 2.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthenticationError(LatentCTError):
    """A bearer token is missing, unknown or revoked (HTTP 401)."""


class PermissionDeniedError(LatentCTError):
    """The annotator's role may not do this (HTTP 403)."""
