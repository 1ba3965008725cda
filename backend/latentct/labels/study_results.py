"""Results of a reader study per method (direction set): specific and confident labels, agreement, and agreement with
the scorecard's measured factors; exported as CSV and a bar chart. Research only, not for clinical use.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from latentct.artifacts.cards import Scorecard
from latentct.core.fsutil import atomic_write_bytes, atomic_write_text
from latentct.labels.agreement import fleiss_kappa, krippendorff_alpha_nominal
from latentct.labels.studies import LabelAnswer, StudyDetail, StudyItem

# terms that say "nothing specific": they do not count as naming what a direction does
UNSPECIFIC_TERMS = frozenset({"no_change", "entangled", "other"})
MIN_CONFIDENCE = 4
# the phantom's factors (scorecard names) as vocabulary terms
FACTOR_TERMS: Mapping[str, str] = {
    "rotation_deg": "rotation",
    "breast_size": "breast_size",
    "fat_thickness": "body_thickness",
    "body_width": "body_size",
    "y_offset": "vertical_position",
    "x_offset": "horizontal_position",
    "z_position": "slice_level",
    "noise_hu": "noise_texture",
}
CAPTION = "Research only, not for clinical use."


@dataclass(frozen=True)
class MethodResult:
    """One direction set's row of the results; None where a number is undefined (no labels, no scorecard)."""

    set: str
    method: str
    directions: int
    annotators: int
    labels: int
    specific_confident: int
    specific_confident_share: float | None
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    measured_directions: int  # directions with a factor the scorecard found
    measured_labels: int  # labels on those directions
    scorecard_matches: int
    scorecard_match_share: float | None


def measured_terms(scorecard: Scorecard | None, set_id: str, set_checksum: str) -> dict[int, set[str]]:
    """Direction index -> vocabulary terms of the factors the scorecard *found* for it (empty without a scorecard).

    Only found factors count (effect, share, sign agreement and chance all passed): every factor has some best
    direction, even in a random set, and matching against those would reward chance.
    """
    row = scorecard.sets.get(set_id) if scorecard is not None else None
    if row is None or not row.is_of(set_checksum):
        return {}  # no scorecard, or one of an older version of the set
    found = {k: {FACTOR_TERMS[f] for f in factors if f in FACTOR_TERMS} for k, factors in row.found_by_direction().items()}
    return {k: terms for k, terms in found.items() if terms}


def method_result(
    set_id: str,
    method: str,
    items: Sequence[StudyItem],
    answers: Sequence[LabelAnswer],
    measured: Mapping[int, set[str]],
) -> MethodResult:
    """The numbers of one set from its items and the annotators' latest labels of them."""
    direction_of = {item.item_id: item.direction for item in items}
    mine = [answer for answer in answers if answer.item_id in direction_of]
    specific = [a for a in mine if a.term not in UNSPECIFIC_TERMS and a.confidence >= MIN_CONFIDENCE]
    terms_by_item: dict[str, list[str]] = {item.item_id: [] for item in items}
    for answer in mine:
        terms_by_item[answer.item_id].append(answer.term)
    on_measured = [a for a in mine if measured.get(direction_of[a.item_id])]
    matches = [a for a in on_measured if a.term in measured[direction_of[a.item_id]]]
    return MethodResult(
        set=set_id,
        method=method,
        directions=len(items),
        annotators=len({a.annotator_id for a in mine}),
        labels=len(mine),
        specific_confident=len(specific),
        specific_confident_share=_share(len(specific), len(mine)),
        fleiss_kappa=fleiss_kappa(_count_table(terms_by_item.values())),
        krippendorff_alpha=krippendorff_alpha_nominal(list(terms_by_item.values())),
        measured_directions=sum(1 for item in items if measured.get(item.direction)),
        measured_labels=len(on_measured),
        scorecard_matches=len(matches),
        scorecard_match_share=_share(len(matches), len(on_measured)),
    )


def study_results(
    detail: StudyDetail,
    items: Sequence[StudyItem],
    answers: Sequence[LabelAnswer],
    scorecard: Scorecard | None,
) -> list[MethodResult]:
    """One row per set of the study, in set id order."""
    rows = []
    for study_set in detail.sets:
        row = scorecard.sets.get(study_set.set_id) if scorecard is not None else None
        method = (row.method if row is not None else None) or study_set.set_id
        rows.append(
            method_result(
                study_set.set_id,
                method,
                [item for item in items if item.set_id == study_set.set_id],
                answers,
                measured_terms(scorecard, study_set.set_id, study_set.set_checksum),
            )
        )
    return rows


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _count_table(terms_per_subject: Any) -> list[list[int]]:
    """Subjects x terms table of counts, the input of fleiss_kappa."""
    subjects = [list(terms) for terms in terms_per_subject]
    categories = sorted({term for terms in subjects for term in terms})
    return [[Counter(terms)[category] for category in categories] for terms in subjects]


def results_csv(study_id: int, rows: Sequence[MethodResult]) -> str:
    """CSV of the rows; numbers rounded to 4 places, undefined ones empty."""
    out = io.StringIO()
    names = ["study", *(f.name for f in fields(MethodResult))]
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = {k: ("" if v is None else round(v, 4) if isinstance(v, float) else v) for k, v in asdict(row).items()}
        writer.writerow({"study": study_id, **values})
    return out.getvalue()


def results_figure(study_name: str, rows: Sequence[MethodResult]) -> bytes:
    """PNG bar chart: per method the share of specific confident labels, Fleiss' kappa and the scorecard match."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = (
        ("specific term, confidence >= 4", [r.specific_confident_share for r in rows]),
        ("Fleiss' kappa", [r.fleiss_kappa for r in rows]),
        ("matches scorecard factor", [r.scorecard_match_share for r in rows]),
    )
    figure, axes = plt.subplots(figsize=(max(5.0, 1.6 * len(rows) + 2), 4.0), dpi=100)
    width = 0.8 / len(series)
    for offset, (label, values) in enumerate(series):
        positions = [i + (offset - 1) * width for i in range(len(rows))]
        axes.bar(positions, [0.0 if v is None else v for v in values], width, label=label)
    axes.set_xticks(range(len(rows)), [f"{r.set}\n({r.method})" for r in rows])
    axes.set_ylim(min(0.0, *[r.fleiss_kappa or 0.0 for r in rows]), 1.0)
    axes.axhline(0.0, color="black", linewidth=0.5)
    axes.set_title(f"Reader study: {study_name}")
    axes.legend(fontsize="small")
    figure.text(0.5, 0.01, f"{CAPTION} Missing values are drawn as 0.", ha="center", fontsize="small")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def write_results(out_dir: Path, study_id: int, study_name: str, rows: Sequence[MethodResult]) -> list[Path]:
    """`study-<id>-results.csv` and `.png` in out_dir, each written to a temporary path and renamed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = atomic_write_text(out_dir / f"study-{study_id}-results.csv", results_csv(study_id, rows))
    png_path = atomic_write_bytes(out_dir / f"study-{study_id}-results.png", results_figure(study_name, rows))
    return [csv_path, png_path]
