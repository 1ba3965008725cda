"""Agreement statistics against worked examples from the literature, and their edge cases."""

from __future__ import annotations

from collections import Counter

import pytest

from latentct.labels.agreement import (
    coincidence_matrix,
    consensus_of_terms,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    set_agreement,
)

# Fleiss (1971) as worked on Wikipedia ("Fleiss' kappa", worked example): 10 subjects, 14 raters, 5 categories;
# P-bar = 0.378, P_e = 0.213, kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers x 12 units, nominal,
# with missing values (None). Published: n = 40 pairable values, n_c = 9, 13, 10, 5, 3, alpha = 0.743.
_ = None
KRIPPENDORFF_OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]


def _krippendorff_units() -> list[list[int]]:
    return [
        [value for value in unit if value is not None] for unit in zip(*KRIPPENDORFF_OBSERVERS, strict=True)
    ]


def test_fleiss_kappa_matches_the_wikipedia_worked_example() -> None:
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099, abs=5e-4)
    assert round(fleiss_kappa(FLEISS_TABLE) or 0.0, 3) == 0.210


def test_krippendorff_alpha_matches_the_2011_worked_example_with_missing_values() -> None:
    units = _krippendorff_units()
    value_totals: Counter[int] = Counter()
    for (c, _k), weight in coincidence_matrix(units).items():
        value_totals[c] += weight
    assert {value: round(total, 9) for value, total in value_totals.items()} == {
        1: 9,
        2: 13,
        3: 10,
        4: 5,
        5: 3,
    }
    assert coincidence_matrix(units)[(1, 2)] == pytest.approx(4 / 3)
    alpha = krippendorff_alpha_nominal(units)
    assert alpha == pytest.approx(0.743, abs=5e-4)
    # 1 - (n-1) * sum_{c!=k} o_ck / sum_{c!=k} n_c n_k = 1 - 39 * 8 / (40^2 - 384)
    assert alpha == pytest.approx(1 - 39 * 8 / 1216)


def test_perfect_agreement_gives_one_and_undefined_cases_give_none() -> None:
    assert fleiss_kappa([[3, 0], [0, 3]]) == pytest.approx(1.0)
    assert krippendorff_alpha_nominal([["a", "a"], ["b", "b", "b"]]) == pytest.approx(1.0)
    assert fleiss_kappa([[1, 0], [0, 1]]) is None  # no subject with two ratings
    assert fleiss_kappa([[2, 0], [3, 0]]) is None  # one category only: chance agreement is 1
    assert krippendorff_alpha_nominal([["a"], ["b"]]) is None  # nothing pairable
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) is None  # no expected disagreement


def test_fleiss_kappa_accepts_varying_rater_counts() -> None:
    # a subject with a single rating carries no pair and must not change the value
    assert fleiss_kappa([[2, 1], [0, 3], [1, 0]]) == pytest.approx(fleiss_kappa([[2, 1], [0, 3]]))


def test_consensus_names_the_majority_term_and_refuses_ties() -> None:
    majority = consensus_of_terms(["rotation", "rotation", "body_size"])
    assert (majority.n_labels, majority.term, majority.share) == (3, "rotation", pytest.approx(2 / 3))
    tie = consensus_of_terms(["rotation", "body_size"])
    assert (tie.n_labels, tie.term, tie.share) == (2, None, 0.5)
    assert consensus_of_terms([]) == consensus_of_terms(())
    assert consensus_of_terms([]).term is None and consensus_of_terms([]).share is None


def test_set_agreement_covers_every_direction_and_equals_the_direct_statistics() -> None:
    labels = [
        ("ann1", 0, "rotation"),
        ("ann2", 0, "rotation"),
        ("ann3", 0, "rotation"),
        ("ann1", 1, "body_size"),
        ("ann2", 1, "breast_size"),
        ("ann3", 1, "body_size"),
        ("ann1", 2, "no_change"),
    ]
    agreement = set_agreement(labels, direction_count=4)
    assert [d.index for d in agreement.directions] == [0, 1, 2, 3]
    assert agreement.directions[0].consensus.share == 1.0
    assert agreement.directions[1].consensus.term == "body_size"
    assert agreement.directions[3].consensus.n_labels == 0
    # categories: body_size, breast_size, no_change, rotation
    assert agreement.fleiss_kappa == pytest.approx(fleiss_kappa([[0, 0, 0, 3], [2, 1, 0, 0], [0, 0, 1, 0]]))
    assert agreement.krippendorff_alpha == pytest.approx(
        krippendorff_alpha_nominal(
            [["rotation"] * 3, ["body_size", "breast_size", "body_size"], ["no_change"]]
        )
    )
    with pytest.raises(ValueError, match="two current labels"):
        set_agreement([("ann1", 0, "rotation"), ("ann1", 0, "body_size")], direction_count=1)
