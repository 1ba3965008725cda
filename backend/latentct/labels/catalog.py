"""What the label layer needs to know about served models: the identity of a direction set, checksums included."""

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
    """Implemented by the serving registry (`app.state.registry`)."""

    def direction_set_identity(self, model_id: str, set_id: str) -> SetIdentity:
        """Return the set's identity; raise latentct.errors.NotFoundError for an unknown model or set."""
        ...
