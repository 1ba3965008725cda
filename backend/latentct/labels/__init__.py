"""Clinicians' labels: the store (annotators, append-only label events), vocabulary, agreement and exports."""

from latentct.labels.catalog import DirectionCatalog, SetIdentity
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
    "DirectionCatalog",
    "Label",
    "LabelQuery",
    "LabelStore",
    "LabelStoreUnavailableError",
    "SetIdentity",
    "consensus_for_set",
    "open_label_store",
]
