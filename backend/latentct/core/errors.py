"""Domain exceptions shared by every layer; only `api/` maps them to HTTP codes and `cli` to exit codes."""

from __future__ import annotations


class LatentCTError(Exception):
    """Base of every error LatentCT raises on purpose. The message is shown to the user as is."""


class InvalidInputError(LatentCTError, ValueError):
    """A value given by the user is out of range or malformed. Name the value and what is allowed."""


class NotFoundError(LatentCTError, LookupError):
    """A model, direction set, direction, dataset, term or file does not exist."""


class ArtifactError(LatentCTError):
    """A model or direction file on disk is missing, corrupt or does not match its manifest."""


class DatasetError(LatentCTError):
    """A data directory is not a LatentCT dataset, or a source holds no usable CT."""


class OverloadedError(LatentCTError):
    """The inference queue is full; the caller should retry after `retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
