"""Label exports: every event as CSV (spreadsheet-safe) or JSON, with the current/superseded flag."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from latentct.core.errors import InvalidInputError
from latentct.core.fsutil import atomic_write_text
from latentct.labels.store import Label, LabelStore, label_to_dict

ExportFormat = Literal["csv", "json"]
EXPORT_FORMATS: tuple[str, ...] = ("csv", "json")
CSV_COLUMNS = (
    "id",
    "annotator_id",
    "annotator_name",
    "created_at",
    "model",
    "model_checksum",
    "set",
    "set_checksum",
    "direction",
    "term",
    "text",
    "confidence",
    "polarity",
    "blinded",
    "current",
    "sign",  # +1 / -1, empty when unknown
    "context",  # JSON text {"window", "seeds", "extent", "steps"}, empty when not sent
)
# Free text starting with these is run as a formula by spreadsheet programs; a leading quote keeps it text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FREE_TEXT_COLUMNS = ("annotator_name", "text", "polarity")


def labels_to_csv(labels: Iterable[Label]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for label in labels:
        row = label_to_dict(label)
        row["context"] = "" if row["context"] is None else json.dumps(row["context"], sort_keys=True)
        for column in _FREE_TEXT_COLUMNS:
            if str(row[column]).startswith(_FORMULA_PREFIXES):
                row[column] = "'" + row[column]
        writer.writerow(row)
    return buffer.getvalue()


def labels_to_json(labels: Iterable[Label]) -> str:
    return (
        json.dumps({"labels": [label_to_dict(label) for label in labels]}, ensure_ascii=False, indent=1)
        + "\n"
    )


def render_export(labels: Iterable[Label], export_format: str) -> str:
    if export_format == "csv":
        return labels_to_csv(labels)
    if export_format == "json":
        return labels_to_json(labels)
    raise InvalidInputError(
        f"export format {export_format!r} is not allowed; allowed: {', '.join(EXPORT_FORMATS)}"
    )


def export_labels_to_file(store: LabelStore, export_format: str, out: Path) -> int:
    """Write every label event to `out` atomically; returns the number of labels written."""
    if export_format not in EXPORT_FORMATS:
        raise InvalidInputError(
            f"export format {export_format!r} is not allowed; allowed: {', '.join(EXPORT_FORMATS)}"
        )
    labels = list(store.iter_all_labels())
    atomic_write_text(out, render_export(labels, export_format))
    return len(labels)
