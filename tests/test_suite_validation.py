"""Bad suite and claims files: one line per problem, each naming the file and the key,
all of them listed, before training."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec.plan import resolve
from harness.spec.problems import ERROR_PREFIX, problems_of
from harness.spec.schemas import CLAIM_KINDS
from harness.spec.suite import load_suite


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture no longer contains {old!r}"
    path.write_text(text.replace(old, new, 1))


SUITE_CASES = [
    # (old text, new text, key expected in the message, words expected)
    ('arm = ["a", "b", "c"]', 'arm = "a"', "factors.arm", "list"),
    ('arm = ["a", "b", "c"]', "arm = []", "factors.arm", "at least 1"),
    ('task = "task:run"', 'task = "task"', "task", "module:function"),
    ('task = "task:run"', 'task = "nosuchmodule:run"', "task", "cannot import"),
    ('task = "task:run"', 'task = "task:nosuchfunc"', "task", "no function"),
    ("seeds = 4", "seeds = 0", "seeds", "greater than or equal to 1"),
    ("seeds = 4", 'seeds = "four"', "seeds", ""),
    ("spread = 0.5", "spread = 0.5\nbogus_key = [", "", "not valid TOML"),
    ('title = "Toy', 'titel = "x"\ntitle = "Toy', "titel", "unknown key"),
    ("trials = 4", "trials = 0", "tuning.trials", "greater than or equal to 1"),
    ("low = 0.01", "low = 2.0", "tuning.high", "greater than low"),
    ('per = ["arm"]', 'per = ["colour"]', "tuning.per[0]", "unknown factor"),
    ('objective = "val_score"', 'objective = "nope"', "tuning.objective", "unknown metric"),
    ("[tiers.smoke]\nseeds = 3", "[tiers.smoke]\nseeds = 3\nparams = { sprad = 1 }",
     "tiers.smoke.params.sprad", "unknown parameter"),
    ("[tiers.smoke]\nseeds = 3", "[tiers.smoke]\nseeds = 3\nfactors = { colour = [1] }",
     "tiers.smoke.factors.colour", "unknown factor"),
    ("[tiers.smoke]\nseeds = 3", "[tiers.smoke]\nseeds = 3\nparams = { arm = 'a' }",
     "tiers.smoke.params.arm", "it is a factor"),
    ("seeds = 4", "seeds = 4\ndefault_tier = \"huge\"", "default_tier",
     "not one of the tiers"),
    ("[params]\nspread = 0.5", "[params]\narm = 1\nspread = 0.5", "params.arm", "also a factor"),
    ('curve = { kind = "curve" }', 'curve = { kind = "matrix" }', "metrics.curve.kind", ""),
    ("trials = 4", "trials = 99999999", "tuning.trials", "less than or equal"),
    (', shape = [2, 3] }', ' }', "metrics.tiles", "needs shape"),
    ('curve = { kind = "curve" }', 'curve = { kind = "curve", shape = [2, 2] }',
     "metrics.curve", "take none"),
    ('shape = [2, 3] }', 'shape = [2, 0] }', "metrics.tiles.shape[1]", "greater than or equal"),
    # [scale]: the write-up's settings name parameters, grids and settings that exist
    ("[tiers.smoke]\nseeds = 3", "[scale]\nparams = { sprad = 1.0 }\n\n[tiers.smoke]\nseeds = 3",
     "scale.params.sprad", "unknown parameter"),
    ("[tiers.smoke]\nseeds = 3", "[scale]\nparams = { spread = 'wide' }\n\n[tiers.smoke]\n"
     "seeds = 3", "scale.params.spread", "is a string ('wide'); [params].spread is a float"),
    ("[tiers.smoke]\nseeds = 3", "[scale]\ngrids = { sweep = { params = { spread = 1.0 } } }"
     "\n\n[tiers.smoke]\nseeds = 3", "scale.grids.sweep", "no grid 'sweep'"),
    ("[tiers.smoke]\nseeds = 3", "[scale]\nparams = { spread = 0.5 }\ntuning_trials = 0\n\n"
     "[tiers.smoke]\nseeds = 3", "scale.tuning_trials", "greater than or equal to 1"),
    ("size = {}", "size = { depends_on = ['spread'] }", "metrics.size.depends_on[0]",
     "not one of the write-up's settings in [scale]"),
    # an override has the type of its [params] default (harness/spec/param_types.py)
    ("[params]\nspread = 0.5", "[tiers.quick.params]\nepochs = \"2\"\n\n[params]\nepochs = 50"
     "\nspread = 0.5", "tiers.quick.params.epochs",
     "is a string ('2'); [params].epochs is an integer (50)"),
    ("[params]\nspread = 0.5", "[tiers.quick.params]\nepochs = 2.0\n\n[params]\nepochs = 50"
     "\nspread = 0.5", "tiers.quick.params.epochs", "is a float (2.0); [params].epochs is an"),
    ("[params]\nspread = 0.5", "[tiers.quick.params]\nepochs = true\n\n[params]\nepochs = 50"
     "\nspread = 0.5", "tiers.quick.params.epochs", "is a boolean (True); [params].epochs is"),
    ("[tiers.smoke]\nseeds = 3", "[tiers.smoke]\nseeds = 3\nparams = { fail_arm = 3 }",
     "tiers.smoke.params.fail_arm", "is an integer (3); [params].fail_arm is a string ('')"),
    ('direction = "maximize"', 'direction = "maximize"\nparams = { sleep = "0" }',
     "tuning.params.sleep", "is a string ('0'); [params].sleep is a float (0.0)"),
    ("tuning = { trials = 3 }", "tuning = { trials = 3, params = { spread = false } }",
     "tiers.smoke.tuning.params.spread", "is a boolean (False); [params].spread is a float"),
    ("seeds = 8", 'seeds = 8\n\n[[grid]]\nname = "g"\nfactors = { arm = ["a"] }\n'
     'params = { lr = "0.1" }', "grid[0].params.lr", "is a string ('0.1'); [params].lr is"),
    ("seeds = 8", 'seeds = 8\n\n[[grid]]\nname = "g"\nfactors = { spread = [0.1, "0.2"] }',
     "grid[0].factors.spread[1]", "is a string ('0.2'); [params].spread is a float (0.5)"),
    # one factor, one type: numbers (ints and floats may mix), strings or booleans
    ('arm = ["a", "b", "c"]', 'arm = ["a", "b", 3]', "factors.arm[2]",
     "is an integer (3) but factors.arm[0] is a string ('a')"),
    ("seeds = 8", 'seeds = 8\n\n[[grid]]\nname = "g"\nfactors = { arm = [true] }',
     "grid[0].factors.arm[0]", "is a boolean (True) but factors.arm[0] is a string ('a')"),
]

CLAIMS_CASES = [
    ('op = ">="\nvalue = 8.0', 'op = "=="\nvalue = 8.0', 'claim[5] (id "threshold").op',
     "Input should be '>', '>=', '<' or '<='"),
    ('op = ">="\nvalue = 8.0', "value = 8.0", 'claim[5] (id "threshold").op',
     "required for kind 'threshold'"),
    ('metric = "size"', 'metric = "sise"', 'claim[3] (id "size-deterministic").metric',
     "no task metric 'sise'"),
    ("a = { arm = \"a\" }\nb = { arm = \"b\" }\nsignificant",
     "a = { arm = \"z\" }\nb = { arm = \"b\" }\nsignificant", 'claim[0] (id "a-beats-b").a.arm',
     "not one of"),
    ("a = { arm = \"a\" }\nb = { arm = \"b\" }\nsignificant",
     "a = { colour = \"a\" }\nb = { arm = \"b\" }\nsignificant",
     'claim[0] (id "a-beats-b").a.colour', "unknown factor"),
    ('kind = "equivalent"', 'kind = "similar"', 'claim[2] (id "a-equals-c").kind',
     "unknown kind 'similar'; kinds are 'greater', 'equivalent'"),
    # the removed kind "above_chance" is now a column's or metric's `chance`
    ('kind = "equivalent"', 'kind = "above_chance"', 'claim[2] (id "a-equals-c").kind',
     "unknown kind 'above_chance'"),
    ('id = "untestable"\nquote = "This is the first toy"\nkind = "not_testable"',
     'id = "untestable"\nquote = "This is the first toy"', 'claim[7] (id "untestable").kind',
     "required key is missing; kinds are 'greater'"),
    ("margin = 2.0\nmargin_reason = \"the toy write-up reads 'within 2 points'\"\n", "",
     'claim[2] (id "a-equals-c")', "an equivalence claim states its margin and margin_reason"),
    ("margin = 2.0\nmargin_reason = \"the toy write-up reads 'within 2 points'\"\n",
     "margin = 2.0\n", 'claim[2] (id "a-equals-c")', "needs margin_reason: one line on why"),
    ("higher_is_better = true\n\n[[claim]]", "\n[[claim]]",
     'claim[4] (id "a-no-worse-than-c").higher_is_better', "which way is better?"),
    ('kind = "threshold"\nmetric = "score"\na = { arm = "a" }\nop = ">="\nvalue = 8.0',
     'kind = "value"\nmetric = "score"\na = { arm = "a" }\nof = "target"\nvalue = "eight"',
     'claim[5] (id "threshold").value', "Input should be a valid number"),
    ('reported = { score = "10.0 ± 0.5" }', 'reported = { score = "ten" }',
     "table[0].row[0].reported.score", "cannot parse"),
    ('reported = { score = "10.0 ± 0.5" }', 'reported = { score = [10.0] }',
     "table[0].row[0].reported.score",
     "Input should be a valid string; or a valid integer; or a valid number"),
    ('reported = { score = "10.0 ± 0.5" }', 'reported = { score = "10.0 ± 0.5", scor = "10" }',
     "table[0].row[0].reported.scor", "no column"),
    ('reported = { score = "10.0 ± 0.5" }',
     'reported = { score = "10.0 ± 0.5" }\nderived = { lr = "1" }',
     "table[0].row[0].derived.lr", "derives a cell the row does not report"),
    ('{ key = "lr", label = "Best LR", param = "lr", format = ".3f" }',
     '{ key = "lr", label = "Best LR", param = "lr", format = "%3f" }',
     "table[0].columns[1].format", "format spec"),
    ('{ key = "lr", label = "Best LR", param = "lr", format = ".3f" }',
     '{ key = "lr", label = "Best LR", param = "speed" }', "table[0].columns[1].param",
     "unknown parameter"),
    ('{ key = "lr", label = "Best LR", param = "lr", format = ".3f" }',
     '{ key = "lr", label = "Best LR", param = "lr", chance = 0.1 }',
     "table[0].columns[1].chance", "only a metric column is tested against chance"),
    ("chance = 0.0, higher_is_better = true }", "chance = 0.0 }",
     "table[0].columns[0].higher_is_better", "needs a better direction"),
    ("margin = 1.5, margin_reason = \"the toy write-up reads 'within 1.5 points'\",",
     "margin = 1.5,", "table[0].columns[0]", "needs margin_reason: one line on why"),
    ('left = "rep(\'main\', \'A\', \'score\') - rep(\'main\', \'B\', \'score\')"',
     'left = "__import__(\'os\').system(\'true\')"', 'claim[6] (id "internal-sum").left',
     "not allowed"),
    ('id = "untestable"', 'id = "a-beats-b"', 'claim[7] (id "a-beats-b").id',
     "duplicate claim id"),
    ("reported_n = 4", "reported_n = 0", "source.reported_n", "greater than or equal to 1"),
    ('left = "rep(\'main\', \'A\', \'score\') - rep(\'main\', \'B\', \'score\')"',
     'left = "sqrt(2)"', 'claim[6] (id "internal-sum").left', "unknown function"),
    ("left = \"rep('main', 'A', 'score')", "left = \"rep('main', 'Z', 'score')",
     'claim[6] (id "internal-sum").left', "no cell main/Z/score"),
    ('metric = "size"', 'metric = "layers"', 'claim[3] (id "size-deterministic").metric',
     "vector; give an index"),
    ('metric = "size"', 'metric = "size"\nindex = 1', 'claim[3] (id "size-deterministic").metric',
     "scalar"),
    ('metric = "size"', 'metric = "tiles"', 'claim[3] (id "size-deterministic").metric',
     "only a [[figure]] shows it"),
    ('metric = "tiles"', 'metric = "score"', "figure[0].metric", "not an image metric"),
    ('id = "tiles"', 'id = "main"', "figure[0].id", "duplicate table or figure id"),
    ('{ label = "B", where = { arm = "b" } }', '{ label = "B", where = { arm = "q" } }',
     "figure[0].row[1].where.arm", "not one of"),
]


@pytest.mark.parametrize("old,new,key,words", SUITE_CASES)
def test_bad_suite_file_names_file_and_key(toy: Path, old, new, key, words):
    edit(toy / "suite.toml", old, new)
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    message = str(err.value)
    assert message.startswith(str(toy / "suite.toml")), message
    assert f": {key}: " in message if key else True, message
    assert words in message, message
    assert "\n" not in message and len(problems_of(err.value)) == 1  # one problem, one line


@pytest.mark.parametrize("old,new,key,words", CLAIMS_CASES)
def test_bad_claims_file_names_file_and_key(toy: Path, old, new, key, words):
    edit(toy / "claims.toml", old, new)
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    message = str(err.value)
    assert message.startswith(str(toy / "claims.toml")), message
    assert f": {key}: " in message, message
    assert words in message, message
    assert "\n" not in message and len(problems_of(err.value)) == 1  # one problem, one line


def test_types_that_fit_their_params_default_load(toy: Path):
    """An integer stands for a float; ints and floats mix in one factor."""
    edit(toy / "suite.toml", "[tiers.smoke]\nseeds = 3",
         "[tiers.smoke]\nseeds = 3\nparams = { spread = 1, fail_arm = 'c', sleep = 0 }")
    edit(toy / "suite.toml", "seeds = 8", 'seeds = 8\n\n[[grid]]\nname = "g"\n'
         "factors = { arm = ['a'], spread = [1, 0.25] }")
    (toy / "claims.toml").write_text("[source]\nfile = 'toy.txt'\n")  # 'arm = a' is ambiguous
    plan = resolve(load_suite(str(toy)), "smoke")
    assert plan.params["spread"] == 1 and plan.params["fail_arm"] == "c"


def test_non_utf8_file(toy: Path):
    (toy / "suite.toml").write_bytes(b'title = "\xff\xfe"\n')
    with pytest.raises(SpecError, match="not UTF-8"):
        load_suite(str(toy))


def test_missing_claims_file(toy: Path):
    (toy / "claims.toml").unlink()
    with pytest.raises(SpecError, match="claims.toml: file is missing"):
        load_suite(str(toy))


def test_unknown_tier_is_an_error(toy: Path):
    suite = load_suite(str(toy))
    with pytest.raises(SpecError, match="no tier 'huge'"):
        resolve(suite, "huge")


def test_unknown_suite_lists_known_ones():
    with pytest.raises(SpecError, match="dsb_mnist1d"):
        load_suite("no_such_suite")


def test_cli_bad_input_is_one_line_exit_2_no_traceback(toy: Path, tmp_path: Path):
    edit(toy / "claims.toml", 'metric = "size"', 'metric = "sise"')
    store = tmp_path / "s.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--suite", str(toy), "--store", str(store)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert re.search(r'claims\.toml: claim\[3\] \(id "size-deterministic"\)\.metric: ', lines[0])
    assert not store.exists(), "nothing may be written to the store on bad input"


def lines_of(err: SpecError) -> list[str]:
    """What the CLI prints for the error: one line per problem."""
    return (ERROR_PREFIX + str(err)).splitlines()


@pytest.mark.parametrize("edits,expected", [
    # three problems of the schema, in three claims
    ([("significant = true", "significant = true\nchance = 0.5"),
      ('op = ">="', 'op = "=="'),
      ('reason = "Novelty is not measurable."', 'reason = ""')],
     [('claim[0] (id "a-beats-b").chance', "unknown key for kind 'greater'"),
      ('claim[5] (id "threshold").op', "Input should be '>', '>=', '<' or '<='"),
      ('claim[7] (id "untestable").reason', "at least 1 character")]),
    # three problems of what the claims refer to, in three claims
    ([("a = { arm = \"a\" }\nb = { arm = \"b\" }\nsignificant",
       "a = { arm = \"z\" }\nb = { arm = \"b\" }\nsignificant"),
      ('metric = "size"', 'metric = "sise"'),
      ("left = \"rep('main', 'A', 'score')", "left = \"rep('main', 'Z', 'score')")],
     [('claim[0] (id "a-beats-b").a.arm', "'z' is not one of"),
      ('claim[3] (id "size-deterministic").metric', "no task metric 'sise'"),
      ('claim[6] (id "internal-sum").left', "no cell main/Z/score")]),
])
def test_every_problem_of_a_claims_file_is_a_line(toy: Path, edits, expected):
    for old, new in edits:
        edit(toy / "claims.toml", old, new)
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    lines = lines_of(err.value)
    assert len(lines) == len(expected), lines
    for line, (key, words) in zip(lines, expected, strict=True):
        assert line.startswith(f"sparsebench: error: {toy / 'claims.toml'}: {key}: "), line
        assert words in line, line


def test_cli_prints_every_problem_of_both_files_exit_2(toy: Path, tmp_path: Path):
    edit(toy / "suite.toml", "seeds = 4", "seeds = 0")
    edit(toy / "suite.toml", 'title = "Toy', 'titel = "Toy')
    edit(toy / "claims.toml", 'metric = "size"', 'metric = "size"\nfamily = "x"')
    edit(toy / "claims.toml", 'kind = "equivalent"', 'kind = "similar"')
    store = tmp_path / "s.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--suite", str(toy), "--store", str(store)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    suite, claims = toy / "suite.toml", toy / "claims.toml"
    assert proc.stderr.splitlines() == [
        f"sparsebench: error: {suite}: title: required key is missing",
        f"sparsebench: error: {suite}: seeds: Input should be greater than or equal to 1; or "
        "a valid list",
        f"sparsebench: error: {suite}: titel: unknown key",
        f'sparsebench: error: {claims}: claim[2] (id "a-equals-c").kind: unknown kind '
        f"'similar'; kinds are {', '.join(repr(k) for k in CLAIM_KINDS)}",
        f'sparsebench: error: {claims}: claim[3] (id "size-deterministic").family: '
        "unknown key for kind 'greater'",
    ]
    assert not store.exists()


@pytest.mark.parametrize("old,new,key,kind", [
    # chance is a column's or a metric's now; family, direction and reported were claims'
    ("significant = true", "significant = true\nchance = 0.5", 'claim[0] (id "a-beats-b").chance',
     "greater"),
    ("value = 8.0", "value = 8.0\nmargin = 1.0", 'claim[5] (id "threshold").margin',
     "threshold"),
    ("significant = true", 'significant = true\nfamily = "main"',
     'claim[0] (id "a-beats-b").family', "greater"),
    ('higher_is_better = true\n\n[[claim]]', 'direction = "higher"\n\n[[claim]]',
     'claim[4] (id "a-no-worse-than-c").direction', "non_inferior"),
    ("value = 8.0", 'value = 8.0\nreported = "9.0 ± 0.5"', 'claim[5] (id "threshold").reported',
     "threshold"),
    ("tol = 0.01", "tol = 0.01\nmetric = 'score'", 'claim[6] (id "internal-sum").metric',
     "internal"),
])
def test_a_key_of_another_kind_names_file_claim_key_and_kind(toy: Path, old, new, key, kind):
    edit(toy / "claims.toml", old, new)
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    assert lines_of(err.value) == [
        f"sparsebench: error: {toy / 'claims.toml'}: {key}: unknown key for kind {kind!r}"]


@pytest.mark.parametrize("old,new,key", [
    ("margin_reason = \"the toy write-up reads 'within 2 points'\"\n", "",
     'claim[2] (id "a-equals-c")'),
    ("margin_reason = \"the toy write-up reads 'within 2 points or better'\"\n", "",
     'claim[4] (id "a-no-worse-than-c")'),
    ("margin = 1.5, margin_reason = \"the toy write-up reads 'within 1.5 points'\",",
     "margin = 1.5,", "table[0].columns[0]"),
])
def test_a_margin_without_margin_reason_is_an_error(toy: Path, old, new, key):
    edit(toy / "claims.toml", old, new)
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    assert lines_of(err.value) == [
        f"sparsebench: error: {toy / 'claims.toml'}: {key}: a margin other than the default "
        "rule needs margin_reason: one line on why"]


@pytest.mark.parametrize("number", ["86.5", "86"])
def test_a_bare_reported_number_loads(toy: Path, number: str):
    edit(toy / "claims.toml", 'reported = { score = "10.0 ± 0.5" }',
         f"reported = {{ score = {number} }}")
    claims = load_suite(str(toy)).claims
    assert claims.table[0].row[0].reported["score"] == float(number)
    assert claims.reported_text("main", "A", "score") == number


def test_rows_of_takes_another_tables_configurations_without_its_numbers(toy: Path):
    """A block declares its rows once: rows_of copies label, where (and a table's index),
    never the write-up's reported numbers, which belong to the table that states them."""
    edit(toy / "claims.toml", 'row = [{ label = "A", where = { arm = "a" } }, '
         '{ label = "B", where = { arm = "b" } }]', 'rows_of = "main"')
    edit(toy / "claims.toml", "[[figure]]", '[[table]]\nid = "extra"\ntitle = "Extra"\n'
         'row_header = "Arm"\ncolumns = [{ key = "s", label = "S", metric = "score" }]\n'
         'rows_of = "main"\n\n[[figure]]')
    claims = load_suite(str(toy)).claims
    extra = next(t for t in claims.table if t.id == "extra")
    assert [(r.label, r.where) for r in extra.row] == [("A", {"arm": "a"}), ("B", {"arm": "b"})]
    assert all(not r.reported for r in extra.row)
    assert [(r.label, r.where) for r in claims.figure[0].row] == [("A", {"arm": "a"}),
                                                                  ("B", {"arm": "b"})]


def test_rows_of_an_unknown_table_names_it_and_the_tables(toy: Path):
    edit(toy / "claims.toml", 'row = [{ label = "A", where = { arm = "a" } }, '
         '{ label = "B", where = { arm = "b" } }]', 'rows_of = "mian"')
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    message = str(err.value)
    assert message.startswith(str(toy / "claims.toml")), message
    assert "'mian'" in message and "['main']" in message, message


def test_suite_toml_reports_every_problem_at_once(toy: Path):
    """Fixing one problem of suite.toml must not reveal the next (issue 28): all of them
    come in one error, each naming its key."""
    from harness.spec.problems import problems_of

    edit(toy / "suite.toml", 'task = "task:run"', 'task = "task:run"\ndefault_tier = "nope"')
    edit(toy / "suite.toml", "[tiers.smoke]\nseeds = 3",
         "[tiers.smoke]\nseeds = 3\nparams = { nosuch = 1 }")
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    keys = [key for _, key, _ in problems_of(err.value)]
    assert "default_tier" in keys and "tiers.smoke.params.nosuch" in keys
