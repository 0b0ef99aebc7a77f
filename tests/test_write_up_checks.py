"""The write-up against itself on hand-made toy tables: each case could fail."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.errors import SpecError
from harness.judge.write_up_checks import check_write_up
from harness.spec.suite import load_suite
from harness.stats.core import parse_reported
from harness.stats.forensics import CONSISTENT, IMPLAUSIBLE, INCONSISTENT, UNINFORMATIVE


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def checks_of(toy: Path, a: str | None = "10.0 ± 0.8", b: str = "9.0 ± 0.5",
              forensics: str = 'score = { step = "1", low = 0, high = 20, why = "points" }',
              extra_column: str = "") -> dict:
    """The toy table with these reported cells (4 runs each): {(row, check): finding}."""
    claims = toy / "claims.toml"
    edit(claims, "reported_n = 4\n", f"reported_n = 4\n\n[forensics]\n{forensics}\n")
    if a is not None:  # None: the test set row A itself
        edit(claims, 'reported = { score = "10.0 ± 0.5" }', f'reported = {{ score = "{a}" }}')
    edit(claims, 'reported = { score = "9.0 ± 0.5" }', f'reported = {{ score = "{b}" }}')
    if extra_column:
        edit(claims, '  { key = "lr", label = "Best LR"', extra_column + '\n  { key = "lr", '
             'label = "Best LR"')
    suite = load_suite(str(toy))
    found = {}
    for check in check_write_up(suite.claims, suite.spec):
        found.setdefault((check.cell.split(",")[1].strip(), check.check), check)
    return found


def test_a_grim_impossible_mean_is_found_with_the_counts_that_allow_it(toy: Path):
    found = checks_of(toy, a="10.1 ± 0.8")  # 4 integers average to 10.0 or 10.25
    grim = found[("A", "GRIM")]
    assert grim.outcome == INCONSISTENT, grim
    assert "10, 10.25" in grim.arithmetic and "10.1" in grim.arithmetic
    assert "n = 10" in grim.would_pass  # 101 / 10
    assert found[("B", "GRIM")].outcome == CONSISTENT


def test_a_grimmer_impossible_sd_is_found(toy: Path):
    # 4 integers with mean 10: sums of squares 400, 402, ... give SD 0, 0.816, ...;
    # an SD printed 0.5 needs a sum of squares in [400.6, 400.9]
    found = checks_of(toy, a="10.0 ± 0.5", b="9.0 ± 0.8")
    assert found[("A", "GRIMMER")].outcome == INCONSISTENT
    assert found[("B", "GRIMMER")].outcome == CONSISTENT


def test_an_sd_too_wide_for_the_bounds_is_found(toy: Path):
    found = checks_of(toy, a="19.0 ± 9.0", b="9.0 ± 0.8",
                      forensics='score = { low = 0, high = 20, why = "points" }')
    # at most sqrt(19 x 1 x 4 / 3) = 5.03 around 19 in [0, 20]
    assert found[("A", "range")].outcome == CONSISTENT  # the mean is inside
    wide = [c for c in check_write_up(load_suite(str(toy)).claims, load_suite(str(toy)).spec)
            if c.cell.startswith("Main table, A") and "SD at most" in c.arithmetic]
    assert wide and wide[0].outcome == INCONSISTENT, wide
    assert ("A", "GRIM") not in found  # no step declared, no granularity check


def test_a_wrong_percentage_change_is_recomputed_from_the_printed_inputs(toy: Path):
    column = ('  { key = "gain", label = "Gain (%)", metric = "score", derived = '
              '"100 * (rep(\'main\', \'{row}\', \'score\') - 9.0) / 9.0" },')
    edit(toy / "claims.toml", 'reported = { score = "10.0 ± 0.5" }',
         'reported = { score = "10.0 ± 0.5", gain = "12.0" }')  # (10 - 9) / 9 = 11.1 %
    found = checks_of(toy, a=None, extra_column=column,
                      forensics='score = { why = "points" }')
    wrong = found[("A", "recomputation")]
    assert wrong.outcome == INCONSISTENT, wrong
    assert "100 * (10.0 - 9.0) / 9.0 = 11.1111" in wrong.arithmetic, wrong.arithmetic


def test_a_right_percentage_change_passes_at_its_printed_precision(toy: Path):
    column = ('  { key = "gain", label = "Gain (%)", metric = "score", derived = '
              '"100 * (rep(\'main\', \'{row}\', \'score\') - 9.0) / 9.0" },')
    edit(toy / "claims.toml", 'reported = { score = "10.0 ± 0.5" }',
         'reported = { score = "10.0 ± 0.5", gain = "11" }')
    found = checks_of(toy, a=None, extra_column=column,
                      forensics='score = { why = "points" }')
    assert found[("A", "recomputation")].outcome == CONSISTENT


def test_a_fine_grid_is_uninformative_not_passed(toy: Path):
    found = checks_of(toy, forensics='score = { step = "0.01", why = "points" }')
    assert found[("A", "GRIM")].outcome == UNINFORMATIVE


@pytest.mark.parametrize("forensics,key", [
    ('nope = { why = "x" }', "forensics.nope"),
    ('score = { step = "a/b", why = "x" }', "forensics.score.step"),
])
def test_a_bad_forensics_entry_names_its_key(toy: Path, forensics: str, key: str):
    edit(toy / "claims.toml", "reported_n = 4\n", f"reported_n = 4\n\n[forensics]\n{forensics}\n")
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    assert f": {key}: " in str(err.value), str(err.value)


def test_a_derived_column_naming_a_missing_placeholder_is_an_error(toy: Path):
    edit(toy / "claims.toml", '  { key = "lr", label = "Best LR"',
         '  { key = "gain", label = "Gain", metric = "score", derived = '
         '"rep(\'main\', \'{model}\', \'score\')" },\n  { key = "lr", label = "Best LR"')
    edit(toy / "claims.toml", 'reported = { score = "10.0 ± 0.5" }',
         'reported = { score = "10.0 ± 0.5", gain = "1" }')
    with pytest.raises(SpecError, match=r"\{model\}.*gives \['arm', 'row'\]"):
        load_suite(str(toy))


@pytest.mark.parametrize("b,outcomes", [
    ("10.0 ± 0.5", [IMPLAUSIBLE, IMPLAUSIBLE]),  # equal as printed: rounding may hide a gap
    ("9.0 ± 0.5", [CONSISTENT, INCONSISTENT]),  # a-beats-b as printed; b-beats-a reversed
    ("9.96 ± 0.5", [CONSISTENT, CONSISTENT]),  # 10.0 may be 9.95: no order is excluded
])
def test_a_claimed_difference_is_checked_against_the_printed_order(toy: Path, b, outcomes):
    found = checks_of(toy, a="10.0 ± 0.8", b=b, forensics='score = { why = "points" }')
    claimed = [c for (row, check), c in found.items() if check == "claimed difference"]
    assert [c.outcome for c in claimed] == outcomes, claimed  # a-beats-b, then b-beats-a
    assert claimed[0].cell.startswith("claim a-beats-b: Main table, A, Score against")


def test_worse_than_chance_is_implausible_not_impossible(toy: Path):
    edit(toy / "claims.toml", 'margin_reason = "the toy write-up reads \'within 1.5 points\'", '
         'chance = 0.0', 'margin_reason = "the toy write-up reads \'within 1.5 points\'", '
         'chance = 9.5')
    found = checks_of(toy, a="10.0 ± 0.8", b="9.0 ± 0.5", forensics='score = { why = "p" }')
    assert found[("A", "chance")].outcome == CONSISTENT
    assert found[("B", "chance")].outcome == IMPLAUSIBLE


def test_grimmer_reads_an_unlabelled_spread_every_way_before_calling_it_impossible(toy: Path):
    # 4 integers with mean 5 (sum 20): sums of squares 100, 102, 104 give sample SDs
    # 0, 0.816, 1.155 and population SDs 0, 0.707, 1: "0.71" is possible as the
    # population SD (numpy's default) and as a standard error (106: 1.414 / 2), not as a
    # sample SD; "0.50" under no reading
    found = checks_of(toy, a="5.00 ± 0.71", forensics='score = { step = "1", why = "p" }')
    assert found[("A", "GRIMMER")].outcome == CONSISTENT
    assert found[("A", "GRIMMER")].arithmetic.startswith("as a population SD: sum 20, sum "
                                                         "of squares 102")


def test_a_spread_impossible_under_every_reading_names_them(toy: Path):
    found = checks_of(toy, a="5.00 ± 0.50", forensics='score = { step = "1", why = "p" }')
    bad = found[("A", "GRIMMER")]
    assert bad.outcome == INCONSISTENT
    assert "as a sample SD or a population SD or a standard error" in bad.arithmetic


@pytest.mark.parametrize("expr,printed,outcome", [
    # the minimum 0 lies inside the box (at 10.0), not at a corner (0.0025)
    ("(rep('main', '{row}', 'score') - 10.0) * (rep('main', '{row}', 'score') - 10.0)",
     "0.0000", CONSISTENT),
    ("abs(rep('main', '{row}', 'score') - 10.0)", "0.000", CONSISTENT),
    # 10.0 stands for 9.95 .. 10.05: the divisor crosses zero, the range is unbounded
    ("100 / (rep('main', '{row}', 'score') - 10.02)", "1", UNINFORMATIVE),
])
def test_a_derived_cell_is_bounded_inside_the_box_not_only_at_its_corners(toy: Path, expr,
                                                                          printed, outcome):
    column = f'  {{ key = "gain", label = "G", metric = "score", derived = "{expr}" }},'
    edit(toy / "claims.toml", 'reported = { score = "10.0 ± 0.5" }',
         f'reported = {{ score = "10.0 ± 0.5", gain = "{printed}" }}')
    found = checks_of(toy, a=None, extra_column=column, forensics='score = { why = "p" }')
    assert found[("A", "recomputation")].outcome == outcome, found[("A", "recomputation")]


def test_a_spread_impossible_as_an_sd_is_read_as_an_se_only_on_a_grid_its_column_allows():
    """One reading of each number (issue 25): on dsb's assumed grid (3 runs, 0.1 pp) FSB's
    '± 0.32' is impossible as an SD and possible as an SE, but the same grid makes the
    column's other means impossible (GRIM), so it cannot rule the SD out: the verdicts
    keep the SD reading. On a grid the whole column fits, the SE reading is taken and
    said."""
    from harness.judge.engine import Judge
    from harness.judge.write_up_checks import spread_reading

    suite = load_suite("dsb_mnist1d")
    claims = suite.claims
    assert spread_reading(claims, "test_acc", parse_reported("86.50% ± 0.32%"), 3) is None
    only_fsb = claims.model_copy(deep=True)
    for row in only_fsb.table[0].row:
        if row.label != "FSB":
            row.reported.pop("acc", None)
    fsb = spread_reading(only_fsb, "test_acc", parse_reported("86.50% ± 0.32%"), 3)
    assert fsb is not None and fsb.startswith("The write-up's ± 0.32 is read as a standard "
                                              "error: as an SD of 3 runs it is impossible")
    assert spread_reading(only_fsb, "test_acc", parse_reported("86.50 ± 0.32 (SD)"), 3) is None
    assert spread_reading(only_fsb, "sparsity_mean", parse_reported("86.50 ± 0.32"), 3) is None
    results = SimpleNamespace(plan=SimpleNamespace(suite=suite))  # read() needs none
    rep, why = Judge(only_fsb, results, "claims.toml").read("86.50% ± 0.32%", "test_acc", 3)
    assert why == fsb and rep.spread_kind == "se"
    assert rep.sd(3) == pytest.approx(0.32 * 3**0.5)
