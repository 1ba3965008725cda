"""Clinicians' labels: the store (annotators, append-only label events), vocabulary, agreement and exports."""

from latentct.labels.errors import LabelStoreUnavailableError
from latentct.labels.store import (
    Annotator,
    Label,
    LabelQuery,
    LabelStore,
    consensus_for_set,
    open_label_store,
)

__all__ = [
    "Annotator",
    "Label",
    "LabelQuery",
    "LabelStore",
    "LabelStoreUnavailableError",
    "consensus_for_set",
    "open_label_store",
]
