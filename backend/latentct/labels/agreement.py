"""Inter-annotator agreement on plain data: per-direction consensus, Fleiss' kappa and Krippendorff's alpha (nominal)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Consensus:
    """The most frequent term among one direction's current labels.

    `term` is None when nobody labelled the direction or when the top terms are tied (no consensus);
    `share` is the fraction of labels that chose the top term (None without labels).
    """

    n_labels: int
    term: str | None
    share: float | None


@dataclass(frozen=True)
class DirectionAgreement:
    index: int
    consensus: Consensus


@dataclass(frozen=True)
class SetAgreement:
    """Agreement over one direction set; a statistic is None where it is undefined (too few pairable labels)."""

    directions: list[DirectionAgreement]
    fleiss_kappa: float | None
    krippendorff_alpha: float | None


def consensus_of_terms(terms: Sequence[str]) -> Consensus:
    """Majority term of one direction's labels (one label per annotator); a tie at the top gives term None."""
    if not terms:
        return Consensus(n_labels=0, term=None, share=None)
    ranked = Counter(terms).most_common()
    top_term, top_count = ranked[0]
    tied = len(ranked) > 1 and ranked[1][1] == top_count
    return Consensus(n_labels=len(terms), term=None if tied else top_term, share=top_count / len(terms))


def fleiss_kappa(category_counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from a subjects x categories table of rating counts.

    Row i holds how many raters put subject i in each category. Fleiss (1971) assumes the same number of raters
    per subject; rows with different totals use the usual generalisation (per-subject agreement over that
    subject's own rater pairs, category shares pooled over all ratings). Subjects with fewer than two ratings
    carry no pair and are left out. Returns None when fewer than one subject remains or chance agreement is 1.
    """
    rows = [list(row) for row in category_counts if sum(row) >= 2]
    if not rows:
        return None
    if any(count < 0 for row in rows for count in row):
        raise ValueError("category counts must be non-negative")
    n_ratings_total = sum(sum(row) for row in rows)
    n_categories = max(len(row) for row in rows)
    category_totals = [sum(row[j] for row in rows if j < len(row)) for j in range(n_categories)]
    chance_agreement = sum((total / n_ratings_total) ** 2 for total in category_totals)
    observed_agreement = sum(_subject_agreement(row) for row in rows) / len(rows)
    if chance_agreement >= 1.0:
        return None
    return (observed_agreement - chance_agreement) / (1.0 - chance_agreement)


def _subject_agreement(row: Sequence[int]) -> float:
    """Share of agreeing ordered rater pairs on one subject: sum n_ij (n_ij - 1) / (n_i (n_i - 1))."""
    n_raters = sum(row)
    return sum(count * (count - 1) for count in row) / (n_raters * (n_raters - 1))


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data; each unit lists the values it received, missing ratings omitted.

    Follows Krippendorff (2011), "Computing Krippendorff's alpha-reliability": build the coincidence matrix
    from every unit with at least two values (each ordered pair weighted 1 / (m_u - 1)), then
    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k. Returns None when no unit is pairable or
    all pairable values are the same (expected disagreement is zero, alpha undefined).
    """
    coincidences = coincidence_matrix(units)
    value_totals: defaultdict[Hashable, float] = defaultdict(float)  # n_c
    for (c, _k), weight in coincidences.items():
        value_totals[c] += weight
    n_pairable = sum(value_totals.values())
    if n_pairable <= 1:
        return None
    observed_disagreement = sum(w for (c, k), w in coincidences.items() if c != k)
    expected_disagreement = sum(
        value_totals[c] * value_totals[k] for c in value_totals for k in value_totals if c != k
    )
    if expected_disagreement == 0:
        return None
    return 1.0 - (n_pairable - 1) * observed_disagreement / expected_disagreement


def coincidence_matrix(units: Sequence[Sequence[Hashable]]) -> dict[tuple[Hashable, Hashable], float]:
    """Krippendorff's coincidence matrix o_ck: ordered value pairs within units, each weighted 1 / (m_u - 1)."""
    coincidences: defaultdict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for values in units:
        m_u = len(values)
        if m_u < 2:
            continue  # a lone value has no partner to agree or disagree with
        value_counts = Counter(values)
        for c, n_c_u in value_counts.items():
            for k, n_k_u in value_counts.items():
                pairs = n_c_u * (n_k_u - 1) if c == k else n_c_u * n_k_u
                coincidences[(c, k)] += pairs / (m_u - 1)
    return dict(coincidences)


def set_agreement(current_labels: Sequence[tuple[Hashable, int, str]], direction_count: int) -> SetAgreement:
    """Agreement of one direction set from (annotator, direction_index, term) triples, one per annotator and direction.

    Directions are the subjects (units), vocabulary terms the categories, annotators the raters; every direction
    0 .. direction_count-1 appears in the answer, labelled or not.
    """
    terms_by_direction: dict[int, list[str]] = {index: [] for index in range(direction_count)}
    seen: set[tuple[Hashable, int]] = set()
    for annotator, direction_index, term in current_labels:
        if (annotator, direction_index) in seen:
            raise ValueError(
                f"annotator {annotator!r} has two current labels for direction {direction_index}"
            )
        seen.add((annotator, direction_index))
        terms_by_direction.setdefault(direction_index, []).append(term)
    directions = [
        DirectionAgreement(index=index, consensus=consensus_of_terms(terms))
        for index, terms in sorted(terms_by_direction.items())
    ]
    return SetAgreement(
        directions=directions,
        fleiss_kappa=fleiss_kappa(_count_table(terms_by_direction)),
        krippendorff_alpha=krippendorff_alpha_nominal(list(terms_by_direction.values())),
    )


def _count_table(terms_by_direction: Mapping[int, Sequence[str]]) -> list[list[int]]:
    """Subjects x categories count table with a fixed column order over every term used."""
    categories = sorted({term for terms in terms_by_direction.values() for term in terms})
    table = []
    for terms in terms_by_direction.values():
        counts = Counter(terms)
        table.append([counts.get(category, 0) for category in categories])
    return table
