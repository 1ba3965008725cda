"""Domain errors of the rendering layer beyond latentct.errors; api/errors.py maps each to its HTTP status."""

from __future__ import annotations

from latentct.errors import InvalidInputError, LatentCTError


class NotReadyError(LatentCTError):
    """The models are still loading or warming up (HTTP 503 with Retry-After)."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UploadError(InvalidInputError):
    """An uploaded file cannot be used; subclasses say why (HTTP 400 unless a subclass says otherwise)."""


class EmptyUploadError(UploadError):
    """The upload has no bytes (HTTP 400)."""


class CorruptUploadError(UploadError):
    """The upload claims a supported format but cannot be read as one, or holds no usable slice (HTTP 400)."""


class UnsupportedUploadError(UploadError):
    """The upload is none of the supported formats: DICOM, PNG, .npy (HTTP 415)."""


class UploadTooLargeError(UploadError):
    """The upload is over the size limit (HTTP 413)."""
