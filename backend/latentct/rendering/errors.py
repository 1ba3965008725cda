"""Domain errors of the rendering layer beyond latentct.core.errors; api/errors.py maps each to its HTTP status."""

from __future__ import annotations

import os
import re
from pathlib import Path

from latentct.core.errors import InvalidInputError, LatentCTError

MAX_PUBLIC_DETAIL_CHARS = 300
# "/a/b/c": two or more segments, not inside a word or a relative path ("1/2", "and/or", "tiny-gan/x" are kept)
_ABSOLUTE_PATH = re.compile(r"(?<![\w./~-])/(?:[\w.@+~-]+/)+([\w.@+~-]*)")
_HEAP_ADDRESS = re.compile(r"\s*(?:object\s+)?at\s+0x[0-9a-fA-F]+|0x[0-9a-fA-F]{8,}")


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


class EncodeCancelledError(UploadError):
    """The client went away while its slice was being encoded: the work stops (the answer has no reader)."""


def public_detail(text: str, *roots: Path) -> str:
    """`text` fit for a public answer: no server paths, heap addresses or tracebacks; the full text belongs in the log.

    Paths under a root (a model folder, the models dir) become relative to it, the root itself its name; any other
    absolute path becomes its last part. Only the first line is kept (a traceback never follows a message to clients).
    """
    # longest first, so a model folder goes before the models dir holding it; "." or "/" would eat every dot or slash
    candidates = {r for root in roots for r in (Path(root), Path(root).resolve()) if len(r.parts) >= 2}
    for root in sorted(candidates, key=lambda r: -len(str(r))):
        text = text.replace(f"{root}{os.sep}", "").replace(str(root), root.name)
    text = _ABSOLUTE_PATH.sub(lambda match: match.group(1) or "(a server path)", text)
    text = _HEAP_ADDRESS.sub("", text)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= MAX_PUBLIC_DETAIL_CHARS else first[: MAX_PUBLIC_DETAIL_CHARS - 3] + "..."
