"""sparsebench coverage: every number of a write-up used by the suite or excused."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import SpecError
from harness.spec.coverage import coverage, find_writeup, share_covered
from harness.spec.suite import available_suites, load_suite
from tests.conftest import IN_CI, REPO

SEEDS = REPO.parent / "shared" / "seeds"

TOY_WRITEUP = """# Toy write-up
## 2. Results
1. A scored 10.0 and B scored 9.0 (Main table), so A beats B.
The raw score of A was about 10.02, and 3 of 7 reviewers liked it.
We thank the 2019 workshop.
"""


@pytest.fixture
def toy_writeup(toy: Path, tmp_path: Path) -> Path:
    path = tmp_path / "toy.txt"
    path.write_text(TOY_WRITEUP, encoding="utf-8")
    return path


def test_each_number_is_traced_to_its_use_or_left_uncovered(toy: Path, toy_writeup: Path):
    found = {(o.line, o.text): o.used_by for o in coverage(load_suite(str(toy)), toy_writeup)}
    assert (2, "2.") not in found and (3, "1.") not in found  # heading and list numbering
    assert found[(3, "10.0")] == "table main / A / score"
    assert found[(3, "9.0")] == "table main / B / score"
    assert found[(4, "10.02")] == ""  # rounds to 10.0 only at one decimal, not at two
    assert found[(4, "3")] == "" and found[(4, "7")] == ""
    assert found[(5, "2019")] == ""


def test_a_rounded_restatement_of_a_table_number_is_its_use(toy: Path, toy_writeup: Path):
    toy_writeup.write_text("A's score, about 10, or 10.0x: 9.96 rounds the same way.\n")
    found = {o.text: o.used_by for o in coverage(load_suite(str(toy)), toy_writeup)}
    assert found["9.96"] == ""  # 9.96 is not 10.0 at two decimals
    assert found["10"] == "table main / A / score"  # the same value, printed without digits
    toy_writeup.write_text("A scored 10.00 on average.\n")
    found = {o.text: o.used_by for o in coverage(load_suite(str(toy)), toy_writeup)}
    assert found["10.00"] == "table main / A / score"


def test_excuses_cover_what_they_name_and_the_cli_reports_the_rest(toy: Path,
                                                                   toy_writeup: Path,
                                                                   capsys):
    args = ["coverage", "--suite", str(toy), "--writeup", str(toy_writeup)]
    assert main(args) == 1  # uncovered numbers: exit 1
    out = capsys.readouterr().out
    assert "2 of 6 numbers covered (33.3 %)" in out and "UNCOVERED" in out
    (toy / "coverage.toml").write_text(
        '[[excuse]]\npattern = "workshop"\nwhy = "an acknowledgement"\n\n'
        '[[excuse]]\nnumbers = ["3", "7", "10.02"]\nwhy = "the reviewers\' tally"\n')
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "6 of 6 numbers covered (100.0 %)" in out and "UNCOVERED" not in out
    assert main([*args, "--all"]) == 0
    assert "excused: an acknowledgement" in capsys.readouterr().out


def test_a_bad_excuse_names_the_file_and_the_key(toy: Path, toy_writeup: Path):
    (toy / "coverage.toml").write_text('[[excuse]]\nwhy = "nothing named"\n')
    with pytest.raises(SpecError) as err:
        coverage(load_suite(str(toy)), toy_writeup)
    assert str(err.value).startswith(str(toy / "coverage.toml")), str(err.value)
    assert "names numbers, a pattern, or both" in str(err.value)


def test_a_small_whole_number_in_prose_is_no_table_cell_by_coincidence(toy: Path,
                                                                       toy_writeup: Path):
    # B's cell prints 9.0: "9 reviewers" is another 9; the 9 of a table row is the cell's
    toy_writeup.write_text("Of 9 reviewers, most liked A.\n| B | 9 |\n")
    found = {o.line: o.used_by for o in coverage(load_suite(str(toy)), toy_writeup)}
    assert found[1] == "" and found[2] == "table main / B / score"


@pytest.mark.parametrize("name", available_suites())
def test_every_shipped_suite_covers_every_number_of_its_writeup(name: str):
    suite = load_suite(name)
    try:  # the suite folder's copy (sparsebench init), else ../shared/seeds/
        writeup = find_writeup(suite)
    except SpecError as err:
        if not SEEDS.is_dir() and not IN_CI:
            pytest.skip("../shared/seeds not here")
        pytest.fail(f"{err} (every shipped suite's write-up is checked for coverage)")
    found = coverage(suite, writeup)
    missing = [(o.line, o.text, o.context) for o in found if not o.used_by]
    assert share_covered(found) == 1.0, missing
    assert main(["coverage", "--suite", name, "--writeup",
                 str(writeup)]) == 0  # the command says the same


def test_numbers_inside_words_and_results_at_a_line_start_are_read_right():
    from harness.spec.coverage import numbers_in

    found = [t for _, t, _, _ in numbers_in("81.22 ± 0.73 on MNIST-1D with 60k rows\n"
                                            "3. a list item of 1.3M parameters\n")]
    assert found == ["81.22", "0.73", "60k", "1.3M"], found


def test_the_digits_of_a_name_are_not_a_number_and_a_range_is_two():
    from harness.spec.coverage import numbers_in

    found = [t for _, t, _, _ in numbers_in("LeNet-5 reaches 99.2 % Top-5; GPT-2 on 3-5 digits,"
                                            " lr 1e-3, a shift of -0.4")]
    assert found == ["99.2", "3", "5", "1e-3", "-0.4"], found
