"""Bad suite and claims files: one clear error naming the file and the key, before training."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.plan import resolve
from harness.suite import load_suite


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
    ('title = "Toy', 'titel = "Toy', "titel", "unknown key"),
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
    # an override has the type of its [params] default (harness/param_types.py)
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
    ('op = ">="\nvalue = 8.0', 'op = "=="\nvalue = 8.0', "claim[5].op", "a threshold has a side"),
    ('metric = "size"', 'metric = "sise"', "claim[3].metric", "no task metric 'sise'"),
    ("a = { arm = \"a\" }\nb = { arm = \"b\" }\nsignificant",
     "a = { arm = \"z\" }\nb = { arm = \"b\" }\nsignificant", "claim[0].a.arm", "not one of"),
    ("a = { arm = \"a\" }\nb = { arm = \"b\" }\nsignificant",
     "a = { colour = \"a\" }\nb = { arm = \"b\" }\nsignificant", "claim[0].a.colour",
     "unknown factor"),
    ('kind = "equivalent"', 'kind = "similar"', "claim[2].kind", ""),
    ("margin = 2.0", "", "claim[2].margin", "required for kind 'equivalent'"),
    ('reported = { score = "10.0 ± 0.5" }', 'reported = { score = "ten" }',
     "table[0].row[0].reported.score", "cannot parse"),
    ('reported = { score = "10.0 ± 0.5" }', 'reported = { scor = "10" }',
     "table[0].row[0].reported.scor", "no column"),
    ('{ key = "lr", label = "Best LR", param = "lr", format = ".3f" }',
     '{ key = "lr", label = "Best LR", param = "lr", format = "%3f" }',
     "table[0].columns[1].format", "format spec"),
    ('{ key = "lr", label = "Best LR", param = "lr", format = ".3f" }',
     '{ key = "lr", label = "Best LR", param = "speed" }', "table[0].columns[1].param",
     "unknown parameter"),
    ('left = "rep(\'main\', \'A\', \'score\') - rep(\'main\', \'B\', \'score\')"',
     'left = "__import__(\'os\').system(\'true\')"', "claim[6].left", "not allowed"),
    ('id = "untestable"', 'id = "a-beats-b"', "claim[7].id", "duplicate claim id"),
    ("reported_n = 4", "reported_n = 0", "source.reported_n", "greater than or equal to 1"),
    ('left = "rep(\'main\', \'A\', \'score\') - rep(\'main\', \'B\', \'score\')"',
     'left = "sqrt(2)"', "claim[6].left", "unknown function"),
    ("left = \"rep('main', 'A', 'score')", "left = \"rep('main', 'Z', 'score')",
     "claim[6].left", "no cell main/Z/score"),
    ('metric = "size"', 'metric = "layers"', "claim[3].metric", "vector; give an index"),
    ('metric = "size"', 'metric = "size"\nindex = 1', "claim[3].metric", "scalar"),
    ('metric = "size"', 'metric = "tiles"', "claim[3].metric", "only a [[figure]] shows it"),
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
    assert "\n" not in message


@pytest.mark.parametrize("old,new,key,words", CLAIMS_CASES)
def test_bad_claims_file_names_file_and_key(toy: Path, old, new, key, words):
    edit(toy / "claims.toml", old, new)
    with pytest.raises(SpecError) as err:
        load_suite(str(toy))
    message = str(err.value)
    assert message.startswith(str(toy / "claims.toml")), message
    assert f": {key}: " in message, message
    assert words in message, message


def test_types_that_fit_their_params_default_load(toy: Path):
    """An integer stands for a float; ints and floats mix in one factor."""
    edit(toy / "suite.toml", "[tiers.smoke]\nseeds = 3",
         "[tiers.smoke]\nseeds = 3\nparams = { spread = 1, fail_arm = 'c', sleep = 0 }")
    edit(toy / "suite.toml", "seeds = 8", 'seeds = 8\n\n[[grid]]\nname = "g"\n'
         "factors = { arm = ['a'], spread = [1, 0.25] }")
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
    assert len(lines) == 1 and re.search(r"claims\.toml: claim\[3\]\.metric: ", lines[0])
    assert not store.exists(), "nothing may be written to the store on bad input"
