"""Direct standardisation on hand-made strata where the raw and adjusted verdicts disagree (Simpson's
paradox), and the chi-square test of homogeneity against published values."""

from __future__ import annotations

import pytest

from ivr.metrics.standardise import (
    chi_square_homogeneity,
    difference_interval,
    standard_weights,
    standardised_mean,
    standardised_rate,
)
from ivr.metrics.stats import chi_square_tail

# Abandons per segment: desk A takes mostly tech calls, desk B mostly billing calls. A abandons less in
# each segment (10% vs 12%, 30% vs 32%), yet more overall (28% vs 14%), as tech calls abandon more.
OFFERED_A = {"billing": 100, "tech": 900, "spanish": 0}
OFFERED_B = {"billing": 900, "tech": 100, "spanish": 250}
ABANDONED_A = {"billing": 10, "tech": 270}
ABANDONED_B = {"billing": 108, "tech": 32}


def test_weights_are_the_combined_mix_of_the_shared_segments():
    weights, left_out = standard_weights(OFFERED_A, OFFERED_B)
    assert weights == {"billing": 0.5, "tech": 0.5}  # (100 + 900) / 2000 each
    assert left_out == ["spanish"]


def test_standardised_rates_reverse_the_raw_difference():
    weights, _ = standard_weights(OFFERED_A, OFFERED_B)
    raw_a = sum(ABANDONED_A.values()) / 1000
    raw_b = sum(ABANDONED_B.values()) / 1000
    assert raw_a - raw_b == pytest.approx(0.14)  # raw: A abandons 14 points more
    a = standardised_rate([(weights[s], ABANDONED_A[s], OFFERED_A[s]) for s in weights])
    b = standardised_rate([(weights[s], ABANDONED_B[s], OFFERED_B[s]) for s in weights])
    assert a is not None and b is not None
    # By hand, the variance with Agresti & Caffo's (2000) p̃ = (x+1)/(n+2) over n+2 calls:
    # A = 0.5·0.10 + 0.5·0.30 = 0.20, var = 0.25·(11/102)(91/102)/102 + 0.25·(271/902)(631/902)/902
    # = 2.35826e-4 + 5.82433e-5 = 2.940693e-4; B = 0.5·0.12 + 0.5·0.32 = 0.22,
    # var = 0.25·(109/902)(793/902)/902 + 0.25·(33/102)(69/102)/102 = 2.94460e-5 + 5.364166e-4 = 5.658626e-4
    assert a == pytest.approx((0.20, 2.940693e-4), rel=1e-6)
    assert b == pytest.approx((0.22, 5.658626e-4), rel=1e-6)
    # adjusted: A abandons 2 points less; 95% interval -0.02 ± 1.959964·√8.599318e-4 = ±0.057475
    assert difference_interval(a, b) == pytest.approx((-0.077475, 0.037475), abs=1e-6)


def test_standardised_means_reverse_the_raw_difference():
    # AHT (n, mean, sample variance): A is quicker in each segment but takes the long tech calls
    a_strata = {"billing": (100, 200.0, 3600.0), "tech": (900, 500.0, 10000.0)}
    b_strata = {"billing": (900, 220.0, 3600.0), "tech": (100, 540.0, 10000.0)}
    raw_a = (100 * 200 + 900 * 500) / 1000
    raw_b = (900 * 220 + 100 * 540) / 1000
    assert raw_a - raw_b == pytest.approx(218)
    a = standardised_mean([(0.5, *a_strata[s]) for s in ("billing", "tech")])
    b = standardised_mean([(0.5, *b_strata[s]) for s in ("billing", "tech")])
    # A = 0.5·200 + 0.5·500 = 350, var = 0.25·3600/100 + 0.25·10000/900 = 11.7778;
    # B = 0.5·220 + 0.5·540 = 380, var = 0.25·3600/900 + 0.25·10000/100 = 26
    assert a == pytest.approx((350, 11.777778))
    assert b == pytest.approx((380, 26))
    low, high = difference_interval(a, b)  # type: ignore[arg-type]
    assert high < 0  # significantly quicker, once like is compared with like


def test_the_same_mix_leaves_the_raw_figure_unchanged():
    weights, _ = standard_weights({"x": 30, "y": 70}, {"x": 300, "y": 700})
    found = standardised_rate([(weights["x"], 3, 30), (weights["y"], 21, 70)])
    assert found is not None
    assert found[0] == pytest.approx(24 / 100)


def test_a_stratum_without_events_still_has_a_variance():
    # 0/12 and 12/12 abandons: the plain r(1 - r)/n is 0 for both, so the interval was a point. Agresti &
    # Caffo: p̃ = 1/14 and 13/14, each stratum 0.25·(1/14)(13/14)/14 = 1.184402e-3, the sum 2.368805e-3
    found = standardised_rate([(0.5, 0, 12), (0.5, 12, 12)])
    assert found == pytest.approx((0.5, 2.368805e-3), rel=1e-6)
    low, high = difference_interval(found, (0.5, 0.0))  # type: ignore[arg-type]
    assert high - low == pytest.approx(2 * 1.959964 * 2.368805e-3**0.5, rel=1e-6)  # ±0.095392
    assert low < 0 < high  # against a desk of the same rate: not significant
    none = standardised_rate([(1.0, 0, 10)])
    assert none is not None and none[0] == 0 and none[1] > 0  # 0 events: the estimate 0, not certain


def test_strata_without_calls_give_no_estimate():
    assert standardised_rate([(0.5, 1, 10), (0.5, 0, 0)]) is None
    assert standardised_rate([]) is None
    assert standardised_mean([(0.4, 1, 100.0, 0.0), (0.6, 20, 90.0, 50.0)]) is None
    assert standard_weights({"x": 5}, {"y": 5}) == ({}, ["x", "y"])


def test_chi_square_matches_r_documentation():
    # R's ?chisq.test example, Agresti (2007) p. 39: party identification by gender,
    # X-squared = 30.07, df = 2, p-value = 2.954e-07 (here each row is a segment, each column a desk)
    found = chi_square_homogeneity({"dem": (762, 484), "ind": (327, 239), "rep": (468, 477)})
    assert found.statistic == pytest.approx(30.0701, abs=5e-5)
    assert found.df == 2
    assert found.p_value == pytest.approx(2.954e-07, rel=1e-3)
    assert found.min_expected == pytest.approx(566 * 1200 / 2757)


@pytest.mark.parametrize(
    ("critical", "df", "tail"),
    [(3.841, 1, 0.05), (6.635, 1, 0.01), (7.815, 3, 0.05), (15.086, 5, 0.01), (18.307, 10, 0.05),
     (43.773, 30, 0.05), (0.115, 3, 0.99)],
)  # fmt: skip
def test_chi_square_tail_matches_the_table(critical, df, tail):
    # NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.4, critical values of the chi-square
    assert chi_square_tail(critical, df) == pytest.approx(tail, rel=2e-3)


def test_mixes_that_differ_are_flagged_and_alike_ones_are_not():
    skewed = chi_square_homogeneity({s: (OFFERED_A[s], OFFERED_B[s]) for s in ("billing", "tech")})
    assert skewed.statistic == pytest.approx(1280)  # four cells of 400² / 500
    assert skewed.p_value < 1e-100
    alike = chi_square_homogeneity({"billing": (100, 205), "tech": (300, 590), "none": (0, 0)})
    assert alike.df == 1
    assert alike.p_value > 0.5


def test_nothing_to_compare_gives_no_test():
    assert chi_square_homogeneity({"billing": (10, 20)}).df == 0
    assert chi_square_homogeneity({"billing": (10, 0), "tech": (5, 0)}).p_value == 1.0
    with pytest.raises(ValueError, match="counts must be 0 or more"):
        chi_square_homogeneity({"billing": (-1, 2), "tech": (5, 5)})
