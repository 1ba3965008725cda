"""The only code that reads or writes model and direction-set files (see architecture.md, "Artifacts")."""

from latentct.artifacts.cards import DirectionSetCard, ModelCard, SetEvaluation, update_card
from latentct.artifacts.directions import (
    DirectionSet,
    list_direction_sets,
    load_direction_set,
    save_direction_set,
    update_direction_set_meta,
)
from latentct.artifacts.models import (
    LoadedModel,
    list_model_dirs,
    load_manifest,
    load_model,
    load_model_card,
    save_model,
    update_manifest,
    validate_id,
)

__all__ = [
    "DirectionSet",
    "DirectionSetCard",
    "LoadedModel",
    "ModelCard",
    "SetEvaluation",
    "list_direction_sets",
    "list_model_dirs",
    "load_direction_set",
    "load_manifest",
    "load_model",
    "load_model_card",
    "save_direction_set",
    "save_model",
    "update_card",
    "update_direction_set_meta",
    "update_manifest",
    "validate_id",
]
