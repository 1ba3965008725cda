"""Inter-annotator agreement on plain data: per-direction consensus, Fleiss' kappa and Krippendorff's alpha (nominal).

The categories are (term, sign) pairs: a label's term and whether a positive shift moves it in the term's positive
sense (+1) or the other way (-1); a label without a sign is its own "(term, ?)" category.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

Sign = int | None  # +1 / -1 against the term's positive sense; None unknown (or a term without a sense)
Category = tuple[str, Sign]  # what agreement counts: (term, sign); (term, None) is its own "(term, ?)" category


class Vote(NamedTuple):
    """One annotator's current label on one direction, as agreement sees it."""

    annotator: Hashable
    direction: int
    term: str
    sign: Sign = None


@dataclass(frozen=True)
class Consensus:
    """The most frequent (term, sign) category among one direction's current labels.

    `term` and `sign` are None when nobody labelled the direction or when the top categories tie (no consensus);
    `tied` then names the tied categories. `share` is the fraction of labels in the top category (None without
    labels). "Clockwise" and "counter-clockwise" rotation are two categories: one of each is a tie, not agreement.
    """

    n_labels: int
    term: str | None
    share: float | None
    sign: Sign = None
    tied: tuple[Category, ...] = ()


@dataclass(frozen=True)
class DirectionAgreement:
    index: int
    consensus: Consensus
    votes: tuple[Vote, ...] = ()

    def consensus_without(self, annotator: Hashable) -> Consensus:
        """The consensus of everyone else: what "others so far" shows the annotator who asks."""
        return consensus_of_categories([_category(v) for v in self.votes if v.annotator != annotator])

    def voted(self, annotator: Hashable) -> bool:
        return any(vote.annotator == annotator for vote in self.votes)


@dataclass(frozen=True)
class SetAgreement:
    """Agreement over one direction set; a statistic is None where it is undefined (too few pairable labels)."""

    directions: list[DirectionAgreement]
    fleiss_kappa: float | None
    krippendorff_alpha: float | None


def consensus_of_categories(categories: Sequence[Category]) -> Consensus:
    """Majority (term, sign) of one direction's labels (one per annotator); a tie at the top names the tied ones."""
    if not categories:
        return Consensus(n_labels=0, term=None, share=None)
    ranked = Counter(categories).most_common()
    top_count = ranked[0][1]
    leading = tuple(sorted((category for category, count in ranked if count == top_count), key=_category_order))
    share = top_count / len(categories)
    if len(leading) > 1:
        return Consensus(n_labels=len(categories), term=None, share=share, sign=None, tied=leading)
    term, sign = leading[0]
    return Consensus(n_labels=len(categories), term=term, share=share, sign=sign)


def consensus_of_terms(terms: Sequence[str]) -> Consensus:
    """`consensus_of_categories` for labels without signs (every term in its "(term, ?)" category)."""
    return consensus_of_categories([(term, None) for term in terms])


def _category(vote: Vote) -> Category:
    return (vote.term, vote.sign)


def _category_order(category: Category) -> tuple[str, int]:
    """A total order over categories: by term, then -1, unknown, +1."""
    return category[0], 0 if category[1] is None else category[1]


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


def set_agreement(current_labels: Sequence[Vote | tuple[Hashable, int, str]], direction_count: int) -> SetAgreement:
    """Agreement of one direction set from votes (annotator, direction_index, term[, sign]), one per annotator and
    direction.

    Directions are the subjects (units), (term, sign) categories the categories, annotators the raters; every
    direction 0 .. direction_count-1 appears in the answer, labelled or not.
    """
    votes_by_direction: dict[int, list[Vote]] = {index: [] for index in range(direction_count)}
    seen: set[tuple[Hashable, int]] = set()
    for vote in (Vote(*label) for label in current_labels):
        if (vote.annotator, vote.direction) in seen:
            raise ValueError(
                f"annotator {vote.annotator!r} has two current labels for direction {vote.direction}"
            )
        seen.add((vote.annotator, vote.direction))
        votes_by_direction.setdefault(vote.direction, []).append(vote)
    categories_by_direction = {
        index: [_category(vote) for vote in votes] for index, votes in votes_by_direction.items()
    }
    directions = [
        DirectionAgreement(
            index=index, consensus=consensus_of_categories(categories_by_direction[index]), votes=tuple(votes)
        )
        for index, votes in sorted(votes_by_direction.items())
    ]
    return SetAgreement(
        directions=directions,
        fleiss_kappa=fleiss_kappa(_count_table(categories_by_direction)),
        krippendorff_alpha=krippendorff_alpha_nominal(list(categories_by_direction.values())),
    )


def _count_table(categories_by_direction: Mapping[int, Sequence[Category]]) -> list[list[int]]:
    """Subjects x categories count table with a fixed column order over every category used."""
    categories = sorted(
        {category for found in categories_by_direction.values() for category in found}, key=_category_order
    )
    table = []
    for found in categories_by_direction.values():
        counts = Counter(found)
        table.append([counts.get(category, 0) for category in categories])
    return table
