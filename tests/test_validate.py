"""sparsebench validate: every problem of a suite folder in one run, without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.spec.suite import available_suites, load_suite
from tests.conftest import REPO
from tests.test_suite_validation import edit

SEEDS = REPO.parent / "shared" / "seeds"


@pytest.fixture
def writeups(tmp_path: Path, monkeypatch) -> Path:
    """A write-up folder holding the toy suite's write-up, as $SPARSEBENCH_WRITEUPS."""
    folder = tmp_path / "writeups"
    folder.mkdir()
    (folder / "toy.txt").write_text("A toy write-up.\n", encoding="utf-8")
    monkeypatch.setenv("SPARSEBENCH_WRITEUPS", str(folder))
    return folder


def test_a_valid_suite_is_ok(toy: Path, writeups: Path, capsys):
    assert main(["validate", "--suite", str(toy)]) == 0
    assert capsys.readouterr().out == "toy: ok\n"


def test_every_problem_of_a_folder_in_one_run(toy: Path, writeups: Path, capsys):
    """Problems of suite.toml against itself, of claims.toml against suite.toml, of the
    task module and of the write-up: load_suite stops at the first stage that fails,
    validate lists them all."""
    edit(toy / "suite.toml", 'task = "task:run"', 'task = "task:runn"\ndefault_tier = "huge"')
    edit(toy / "suite.toml", "[tiers.smoke]\nseeds = 3",
         "[tiers.smoke]\nseeds = 3\nparams = { nosuch = 1 }")
    edit(toy / "claims.toml", 'metric = "size"', 'metric = "sise"')
    edit(toy / "claims.toml", 'file = "toy.txt"', 'file = "elsewhere.txt"')
    with pytest.raises(Exception):  # noqa: B017 (whichever error, it names one stage only)
        load_suite(str(toy))
    assert main(["validate", "--suite", str(toy)]) == 2
    out = capsys.readouterr().out.splitlines()
    suite, claims = toy / "suite.toml", toy / "claims.toml"
    assert out[0] == "toy: 6 problems"
    problems = [line.strip() for line in out[1:-1]]
    expected = [
        (f"{suite}: default_tier: ", "'huge' is not one of the tiers"),
        (f"{suite}: tiers.smoke.params.nosuch: ", "unknown parameter"),
        (f'{claims}: claim[3] (id "size-deterministic").metric: ', "no task metric 'sise'"),
        (f"{suite}: task: ", "module has no function 'runn'"),
        (f"{suite}: writeup: ", "claims.toml's source.file is 'elsewhere.txt'"),
        (f"{claims}: source.file: ", "write-up 'elsewhere.txt' not found"),
    ]
    assert len(problems) == len(expected), problems
    for line, (start, words) in zip(problems, expected, strict=True):
        assert line.startswith(start) and words in line, line
    assert out[-1] == "1 of 1 suites have problems"


def test_schema_problems_of_both_files_together(toy: Path, writeups: Path, capsys):
    edit(toy / "suite.toml", "seeds = 4", "seeds = 0")
    edit(toy / "suite.toml", 'title = "Toy', 'titel = "Toy')
    edit(toy / "claims.toml", 'kind = "equivalent"', 'kind = "similar"')
    assert main(["validate", "--suite", str(toy)]) == 2
    out = capsys.readouterr().out
    for key in ("title: required key", "seeds: Input should be", "titel: unknown key",
                'claim[2] (id "a-equals-c").kind: unknown kind'):
        assert key in out, out


@pytest.mark.parametrize("task_py,words", [
    (None, "no module 'task'"),
    ("def run(:\n", "line 1: invalid syntax"),
    ("def run(params, ctx):\n    return {}\n", "must define TASK_VERSION"),
    ("TASK_VERSION = 1\ndef run(params, ctx):\n    return {}\n", "TASK_VERSION is 1"),
])
def test_the_task_module_is_read_not_imported(toy: Path, writeups: Path, capsys, task_py, words):
    if task_py is None:
        (toy / "task.py").unlink()
    else:
        (toy / "task.py").write_text(task_py, encoding="utf-8")
    assert main(["validate", "--suite", str(toy)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[1].strip().startswith(f"{toy / 'suite.toml'}: task: ") and words in out[1], out


def test_unknown_suite_is_a_problem_and_the_others_are_still_checked(toy: Path, writeups: Path,
                                                                     capsys):
    assert main(["validate", "--suite", "no_such_suite", "--suite", str(toy)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "no_such_suite: 1 problem" and "no suite of that name" in out[1]
    assert out[2] == "toy: ok" and out[3] == "1 of 2 suites have problems"


def test_validate_imports_neither_torch_nor_any_task(toy: Path, writeups: Path):
    """The toy task and every shipped suite's import torch: validate reads them only."""
    names = [str(toy), *available_suites()]
    code = ("import sys\nfrom harness.cli import main\n"
            f"rc = main(['validate', *[a for n in {names!r} for a in ('--suite', n)]])\n"
            "tasks = [m for m in sys.modules if m.startswith('sparsebench_suite_')]\n"
            "print(rc, 'torch' in sys.modules, tasks, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    rc, torch_imported, tasks = proc.stderr.strip().splitlines()[-1].split(" ", 2)
    assert torch_imported == "False" and tasks == "[]", proc.stderr
    if SEEDS.is_dir():  # the shipped write-ups are where validate looks for them
        assert rc == "0", proc.stdout


def test_a_bare_name_of_a_suite_in_the_working_directory_says_to_give_its_path(
        toy: Path, writeups: Path, tmp_path: Path, capsys, monkeypatch):
    """A bare name reads the repository's suites/; a researcher whose own suites/ folder
    holds it is told to name it by its path, which then works."""
    import shutil

    shutil.copytree(toy, tmp_path / "suites" / "mine")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--suite", "mine"]) == 2
    out = capsys.readouterr().out
    assert "./suites/mine is a suite folder: name it by its path (--suite suites/mine)" in out
    assert main(["validate", "--suite", "suites/mine"]) == 0, capsys.readouterr().out
