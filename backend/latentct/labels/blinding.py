"""Blinding: what of the others' labels and of the measured hints a caller may see, direction by direction.

An annotator must not be swayed before they label: the consensus of a direction is shown to admins always, to an
annotator only for a direction they have labelled (their current label exists), and to nobody without a token.
The automatic hints of a direction's metrics (the factor it was measured to move, `best_factor`, `tracks`, the
supervised set's `factor`, per-factor alignment and effect tables) follow the same rule, so the metrics a slider
shows cannot name the answer either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from latentct.labels.agreement import Consensus, DirectionAgreement
from latentct.labels.store import Annotator, Label

# metric keys naming or measuring a phantom factor: the answer an annotator is asked for
HINT_METRIC_PREFIXES = ("best_factor", "factor")
HINT_METRIC_KEYS = frozenset({"tracks"})


def may_see(direction: DirectionAgreement, viewer: Annotator | None) -> bool:
    """Admins see every direction's consensus, an annotator those they labelled, an anonymous caller none."""
    if viewer is None:
        return False
    return viewer.is_admin or direction.voted(viewer.id)


def is_hint(metric: str) -> bool:
    return metric in HINT_METRIC_KEYS or metric.startswith(HINT_METRIC_PREFIXES)


def visible_metrics(metrics: Mapping[str, Any], show_hints: bool) -> dict[str, Any]:
    """A direction's metrics without the hint fields unless the caller may see them."""
    return {key: value for key, value in metrics.items() if show_hints or not is_hint(key)}


def consensus_fields(consensus: Consensus) -> dict[str, Any]:
    """{"term", "sign", "share", "n_labels", "tie", "consensus_terms"} of one consensus (the API's shape).

    `tie` lists the tied (term, sign) categories ([] when one leads); `consensus_terms` the distinct terms of the
    leading categories, for readers that know only terms.
    """
    leading = consensus.tied or (((consensus.term, consensus.sign),) if consensus.term is not None else ())
    terms = list(dict.fromkeys(term for term, _sign in leading))
    return {
        "term": consensus.term,
        "sign": consensus.sign,
        "share": consensus.share,
        "n_labels": consensus.n_labels,
        "tie": [{"term": term, "sign": sign} for term, sign in consensus.tied],
        "consensus_terms": terms,
    }


def consensus_view(direction: DirectionAgreement, viewer: Annotator | None) -> dict[str, Any] | None:
    """The consensus this viewer may see, with `others` (everyone but the viewer); None when hidden or unlabelled."""
    if not may_see(direction, viewer) or direction.consensus.n_labels == 0:
        return None
    assert viewer is not None  # may_see is false without one
    return {**consensus_fields(direction.consensus), "others": consensus_fields(direction.consensus_without(viewer.id))}


def label_detail(labels: list[Label], viewer: Annotator) -> list[dict[str, Any]] | None:
    """Per-annotator detail of one direction's current labels, for admins only (None for anyone else)."""
    if not viewer.is_admin:
        return None
    return [
        {
            "label_id": label.id,
            "annotator_id": label.annotator_id,
            "annotator_name": label.annotator_name,
            "term": label.term,
            "sign": label.sign,
            "confidence": label.confidence,
            "text": label.text,
            "polarity": label.polarity,
            "context": label.context,
            "blinded": label.blinded,
            "created_at": label.created_at,
        }
        for label in labels
    ]
