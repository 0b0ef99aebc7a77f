"""Forensic checks of printed numbers on hand-made cases, each of which could fail."""

from __future__ import annotations

from fractions import Fraction

import pytest

from harness.stats.forensics import (
    CONSISTENT,
    INCONSISTENT,
    UNINFORMATIVE,
    Printed,
    bounded_sd,
    grim,
    grim_any_count,
    grimmer,
    in_range,
)


def test_printed_numbers_keep_their_precision():
    assert Printed.parse("81.22").half_ulp == Fraction(1, 200)
    assert Printed.parse("27").half_ulp == Fraction(1, 2)
    assert Printed.parse("1,236").value == 1236
    assert Printed.parse("\u22120.0684").value == Fraction("-0.0684")
    assert Printed.parse("79.15%").value == Fraction("79.15")


def test_grim_finds_the_classic_impossible_mean_and_the_counts_that_allow_it():
    # 28 integers: sums 145 and 146 give 5.18 and 5.21, never 5.19
    bad = grim(Printed.parse("5.19"), 28, 1)
    assert bad.outcome == INCONSISTENT, bad
    assert "5.17857" in bad.arithmetic and "5.21429" in bad.arithmetic
    assert "n = 28" not in bad.would_pass and bad.would_pass  # other n would do
    assert all(grim(Printed.parse("5.19"), int(w[4:]), 1).outcome == CONSISTENT
               for w in bad.would_pass)
    assert grim(Printed.parse("5.18"), 28, 1).outcome == CONSISTENT


def test_grim_is_uninformative_when_the_grid_is_finer_than_the_print():
    assert grim(Printed.parse("5.2"), 28, 1).outcome == UNINFORMATIVE
    assert grim(Printed.parse("81.22"), 5, "0.025").outcome == UNINFORMATIVE


def test_grim_of_accuracies_over_a_test_set_names_the_sizes_that_fit():
    # 3 runs over 50 examples: accuracies on steps of 2 %, means on steps of 2/3 %
    assert grim(Printed.parse("90.67"), 3, Fraction(100, 50)).outcome == CONSISTENT
    bad = grim(Printed.parse("90.50"), 3, Fraction(100, 50))
    assert bad.outcome == INCONSISTENT
    sizes = grim_any_count(Printed.parse("90.50"), 3, range(40, 201))
    assert "N = 50" not in sizes and "N = 200" in sizes  # 543 right of 600 is 90.50 %


def test_grimmer_checks_the_sd_against_the_sums_of_squares():
    mean = Printed.parse("3.00")  # 5 integers summing to 15
    assert grimmer(mean, Printed.parse("1.58"), 5, 1).outcome == CONSISTENT  # 1..5
    assert grimmer(mean, Printed.parse("1.41"), 5, 1).outcome == CONSISTENT  # 1,2,4,4,4
    assert grimmer(mean, Printed.parse("1.60"), 5, 1).outcome == INCONSISTENT
    # Q = 54 would give SD 1.50 but has the wrong parity for a sum of 15
    parity = grimmer(mean, Printed.parse("1.50"), 5, 1)
    assert parity.outcome == INCONSISTENT and "parity" in parity.arithmetic
    assert grimmer(Printed.parse("5.19"), Printed.parse("1.0"), 28, 1).outcome == UNINFORMATIVE


def test_grimmer_needs_integers_that_have_the_sum_of_squares_not_only_its_parity():
    # sum 0 and sum of squares 4 pass the parity and the bound (SD 1.414 as a sample SD)
    # but no three integers have them: x^2 + y^2 + (x + y)^2 = 4 has no integer solution
    mean, sd = Printed.parse("0.00"), Printed.parse("1.41")
    assert grimmer(mean, sd, 3, 1, ("sample SD",)).outcome == INCONSISTENT
    found = grimmer(mean, sd, 3, 1, ("population SD",))  # sum of squares 6: -2, 1, 1
    assert found.outcome == CONSISTENT and "the values -2, 1, 1" in found.arithmetic
    # accuracies over 1000 examples in 3 runs: 86.50 with an SD of 0.32 only as an SE
    acc, spread = Printed.parse("86.50"), Printed.parse("0.32")
    assert grimmer(acc, spread, 3, "0.1", ("sample SD", "population SD")).outcome \
        == INCONSISTENT
    found = grimmer(acc, spread, 3, "0.1")
    assert found.outcome == CONSISTENT and found.arithmetic.startswith("as a standard error")
    assert "impossible as a sample SD or a population SD" in found.arithmetic


def test_grimmer_keeps_the_values_inside_the_metrics_bounds():
    # mean 99.0 and sample SD 1.7 of three integers: only 97, 100, 100 and 98, 98, 101
    # (SD 1.73); with the values at most 99.5, neither
    mean, sd = Printed.parse("99.0"), Printed.parse("1.7")
    assert grimmer(mean, sd, 3, 1, ("sample SD",)).outcome == CONSISTENT
    found = grimmer(mean, sd, 3, 1, ("sample SD",), high=100)
    assert found.outcome == CONSISTENT and "the values 97, 100, 100" in found.arithmetic
    assert grimmer(mean, sd, 3, 1, ("sample SD",), high=99.5).outcome == INCONSISTENT


@pytest.mark.parametrize("sd,outcome", [("49.9", CONSISTENT), ("70.0", INCONSISTENT)])
def test_a_bounded_metric_cannot_spread_more_than_its_range_allows(sd, outcome):
    # percentages of 4 runs with mean 50: at most sqrt(50 x 50 x 4 / 3) = 57.7
    assert bounded_sd(Printed.parse("50.0"), Printed.parse(sd), 4, 0, 100).outcome == outcome


def test_percentages_outside_0_100_are_flagged_at_their_printed_precision():
    assert in_range(Printed.parse("100.04"), 0, 100, "accuracy").outcome == INCONSISTENT
    assert in_range(Printed.parse("100.0"), 0, 100, "accuracy").outcome == CONSISTENT
    assert in_range(Printed.parse("-0.2"), 0, None, "sparsity").outcome == INCONSISTENT


def test_a_bounded_sd_uses_every_mean_the_print_allows():
    # "0.0" may be 0.04, around which values in [0, 100] can spread by about 2.3
    assert bounded_sd(Printed.parse("0.0"), Printed.parse("0.05"), 4, 0, 100).outcome \
        == CONSISTENT
    assert bounded_sd(Printed.parse("0.0"), Printed.parse("3.0"), 4, 0, 100).outcome \
        == INCONSISTENT
