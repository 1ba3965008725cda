"""The identity of a served direction set, checksums included, and the catalog that answers it.

It lives with the artifacts because it describes their files (weights and direction matrix checksums): the serving
registry implements the catalog and the label layer reads it, neither importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SetIdentity:
    """A direction set as labels refer to it: a label on a retrained set never carries over (checksums differ)."""

    model_id: str
    model_checksum: str  # sha256 of the generator weights
    set_id: str
    set_checksum: str  # sha256 of the direction matrix file
    count: int  # number of directions K


class DirectionCatalog(Protocol):
    """Implemented by the serving registry (`app.state.registry`); read by the label routes."""

    def direction_set_identity(self, model_id: str, set_id: str) -> SetIdentity:
        """Return the set's identity; raise latentct.core.errors.NotFoundError for an unknown model or set."""
        ...
