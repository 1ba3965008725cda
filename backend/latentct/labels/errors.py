"""Domain errors of the label store and of who may use it; api/errors.py maps each to its HTTP status."""

from __future__ import annotations

from latentct.core.errors import LatentCTError


class LabelStoreUnavailableError(LatentCTError):
    """The label database does not answer (down, restarting, locked past the busy timeout); retry later.

    The API maps it to 503 with `Retry-After: retry_after_s`; nothing was stored when it is raised.
    """

    def __init__(self, message: str, retry_after_s: float = 2.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuthenticationError(LatentCTError):
    """A bearer token is missing, unknown or revoked (HTTP 401).

    `token_given` tells the two apart: a client that sent no token is asked for one, a client whose token was refused
    is told that token is invalid (RFC 6750 section 3.1), so it stops retrying it.
    """

    def __init__(self, message: str, token_given: bool) -> None:
        super().__init__(message)
        self.token_given = token_given


class PermissionDeniedError(LatentCTError):
    """The annotator's role may not do this (HTTP 403)."""


class ConflictError(LatentCTError):
    """The request contradicts what is stored (HTTP 409); retrying it unchanged cannot succeed."""


class IdempotencyConflictError(ConflictError):
    """An Idempotency-Key was used before by the same annotator for a different label (HTTP 409)."""
