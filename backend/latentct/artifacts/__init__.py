"""The only code that reads or writes model and direction-set files (see architecture.md, "Artifacts")."""

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
    save_model,
    update_manifest,
    validate_id,
)

__all__ = [
    "DirectionSet",
    "LoadedModel",
    "list_direction_sets",
    "list_model_dirs",
    "load_direction_set",
    "load_manifest",
    "load_model",
    "save_direction_set",
    "save_model",
    "update_direction_set_meta",
    "update_manifest",
    "validate_id",
]
