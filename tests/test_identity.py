"""Cell identity: the code a cell ran is part of its id; suites never share by name alone;
the recorded commit sees uncommitted files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from harness.determinism import git_commit
from harness.errors import SpecError
from harness.report.model import build
from harness.run.runner import Runner
from harness.run.store import Store
from harness.spec.identity import code_identity
from harness.spec.plan import group_key, resolve
from harness.spec.suite import SUITES_DIR, load_suite, load_suites
from tests.conftest import FIXTURES, REPO

CPU = torch.device("cpu")
TASK = '''
import helpers  # not the suite's helpers.py: suites import their modules relatively
import thirdparty
from baselines.model import width
from harness.task_api import RunContext
from . import sibling
from .pkg.deep import depth
from .ns.inner import leaf  # a folder without __init__.py: a namespace package


def run(params, ctx):
    import baselines.lazy  # imported inside a function: still the task's code
    return {"m": 1.0}
'''


def project(tmp_path: Path) -> tuple[Path, Path]:
    """A project root with baselines/ and harness/, and a suite folder inside it."""
    root = tmp_path / "project"
    files = {
        "baselines/__init__.py": "",
        "baselines/model.py": "from .layers import relu\nwidth = 8\n",
        "baselines/layers.py": "relu = max\n",
        "baselines/lazy.py": "x = 1\n",
        "baselines/unused.py": "y = 2\n",
        "harness/__init__.py": "",
        "harness/task_api.py": "class RunContext: ...\n",
        "harness/report/model.py": "# not imported by the task\n",
        "suites/s/task.py": TASK,
        "suites/s/helpers.py": "z = 3\n",
        "suites/s/sibling.py": "from .helpers import z\n",
        "suites/s/pkg/__init__.py": "",
        "suites/s/pkg/deep.py": "depth = 2\n",
        "suites/s/ns/inner.py": "leaf = 4\n",
        "thirdparty/__init__.py": "# a package beside the project's, as in site-packages\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root, root / "suites" / "s"


def test_the_digest_covers_every_module_the_task_reaches_and_nothing_else(tmp_path: Path):
    root, suite = project(tmp_path)
    ident = code_identity(suite / "task.py", suite, root)
    assert set(ident.files) == {
        "suite:task.py", "suite:helpers.py", "suite:sibling.py", "suite:pkg/__init__.py",
        "suite:pkg/deep.py", "suite:ns/inner.py", "baselines/__init__.py", "baselines/model.py",
        "baselines/layers.py", "baselines/lazy.py", "harness/__init__.py",
        "harness/task_api.py"}
    for name in ["suites/s/task.py", "suites/s/pkg/deep.py", "suites/s/helpers.py",
                 "suites/s/ns/inner.py",
                 "baselines/layers.py", "baselines/lazy.py", "harness/task_api.py"]:
        before = code_identity(suite / "task.py", suite, root).digest
        (root / name).write_text((root / name).read_text() + "# edited\n")
        assert code_identity(suite / "task.py", suite, root).digest != before, name
    before = code_identity(suite / "task.py", suite, root).digest
    for name in ["baselines/unused.py", "harness/report/model.py", "thirdparty/__init__.py"]:
        (root / name).write_text("changed = True\n")
    assert code_identity(suite / "task.py", suite, root).digest == before


def test_what_every_cell_runs_is_hashed_even_when_not_imported(tmp_path: Path):
    root, suite = project(tmp_path)
    (suite / "task.py").write_text("def run(params, ctx):\n    return {'m': 1.0}\n")
    (suite / "__init__.py").write_text("")
    ident = code_identity(suite / "task.py", suite, root)
    assert set(ident.files) == {"suite:task.py", "suite:__init__.py", "harness/task_api.py"}
    assert len(ident.hashes) == len(ident.files)


def test_the_digest_does_not_depend_on_where_the_code_lies(tmp_path: Path):
    root, suite = project(tmp_path)
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "clone")
    crlf = copy / "suites" / "s" / "helpers.py"
    crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))
    assert code_identity(suite / "task.py", suite, root) == \
        code_identity(copy / "suites" / "s" / "task.py", copy / "suites" / "s", copy)


def test_the_shipped_suites_hash_their_own_code():
    for name in ["dsb_mnist1d", "sae_tutorial"]:
        files = load_suite(name).code.files
        assert "suite:task.py" in files and "harness/task_api.py" in files
        assert any(f.startswith("baselines/") for f in files)
        assert "harness/report/model.py" not in files


def _edit_metric(toy: Path) -> None:
    task = toy / "task.py"
    text = task.read_text()
    assert "TASK_VERSION" in text
    task.write_text(text + "\n\n_original_run = run\n\n\ndef run(params, ctx):\n"
                    "    out = _original_run(params, ctx)\n"
                    "    return {k: v + 1.0 if isinstance(v, float) else v "
                    "for k, v in out.items()}\n")


def test_editing_the_task_without_a_version_bump_reads_nothing_stale(toy: Path,
                                                                       store_path: Path):
    plan = resolve(load_suite(str(toy)), "smoke")
    with Store(store_path) as store:
        first = Runner(store, CPU, None, progress=False).run(plan)
    assert first.executed > 0 and first.records
    _edit_metric(toy)
    edited = resolve(load_suite(str(toy)), "smoke")
    assert edited.suite.task_version == plan.suite.task_version
    with Store(store_path) as store:
        stale = Runner(store, CPU, None, execute=False,
                       progress=False).run(edited)
        assert stale.records == [] and all(not t.trials for t in stale.tuning)
        fresh = Runner(store, CPU, None, progress=False).run(edited)
    assert fresh.executed == first.executed and fresh.read_back == 0
    old, new = build(first, "x"), build(fresh, "x")
    assert old.seed_stats != new.seed_stats
    assert old.provenance["code_digest"] != new.provenance["code_digest"]
    assert new.provenance["code_digest"] == edited.suite.code.digest


def test_a_copy_of_a_shipped_suite_has_its_own_name_task_and_cells(tmp_path: Path):
    shipped = load_suite("dsb_mnist1d")
    copy_folder = shutil.copytree(SUITES_DIR / "dsb_mnist1d", tmp_path / "copy" / "dsb_mnist1d")
    unchanged = load_suite(str(copy_folder))
    assert unchanged.name != shipped.name and unchanged.name.startswith("dsb_mnist1d-")
    assert unchanged.code.digest == shipped.code.digest  # same code, same digest
    task = copy_folder / "task.py"
    task.write_text(task.read_text().replace("def _accuracy", "def _accuracy_unused", 1)
                    + "\n\ndef _accuracy(*args, **kwargs):\n    return 0.0\n")
    edited = load_suite(str(copy_folder))
    assert edited.task is not shipped.task
    assert edited.code.digest != shipped.code.digest
    both = load_suites(["dsb_mnist1d", str(copy_folder)])
    assert len({s.name for s in both}) == 2
    ids = [{c.id for c in _all_main_cells(resolve(s, "smoke"))} for s in both]
    assert not ids[0] & ids[1]


def _all_main_cells(plan) -> list:
    tuned = {group_key(g): {plan.tuning.param: 1e-3} for g in plan.tuning_groups()}
    cells = plan.main_cells(tuned)
    assert cells
    return cells


def test_two_suites_with_one_name_outside_suites_are_refused(toy: Path, tmp_path: Path):
    other = shutil.copytree(FIXTURES / "toy", tmp_path / "elsewhere" / "toy")
    with pytest.raises(SpecError, match="also named 'toy'"):
        load_suites([str(toy), str(other)])
    assert len(load_suites([str(toy), str(toy)])) == 1


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root,
                   check=True, capture_output=True)


def test_the_recorded_commit_sees_untracked_files_but_not_ignored_ones(tmp_path: Path):
    if shutil.which("git") is None:
        pytest.fail("git is needed to record commits")
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / ".gitignore").write_text("store.sqlite\n")
    (root / "a.py").write_text("a = 1\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=True).stdout.strip()
    (root / "store.sqlite").write_text("ignored")
    assert git_commit(root) == head
    git_commit.cache_clear()
    (root / "new_suite").mkdir()
    (root / "new_suite" / "task.py").write_text("TASK_VERSION = '1'\n")
    assert git_commit(root) == head + "+dirty"
    git_commit.cache_clear()
    assert git_commit(REPO) != "unknown"


def test_regress_after_an_unversioned_edit_names_the_code_change(toy: Path, capsys):
    from harness.cli import main

    assert main(["regress", "--update", "--suite", str(toy), "--tier", "smoke",
                 "--no-progress"]) == 0
    stored = (toy / "expected" / "smoke.json").read_text()
    assert load_suite(str(toy)).code.digest in stored
    capsys.readouterr()
    _edit_metric(toy)
    assert main(["regress", "--suite", str(toy), "--tier", "smoke", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "numbers moved" in out and "the suite's code changed" in out
    assert "suite:task.py" in out


def test_a_worker_whose_code_differs_from_the_drivers_stores_failures(toy: Path):
    from harness.run.executors import Job, run_job

    suite = load_suite(str(toy))
    cell = resolve(suite, "smoke").trial_cell({"arm": "a"}, 0.3)
    ok = run_job(Job(str(toy), suite.code.digest, (cell,), "cpu", None))
    assert ok[0].status == "done"
    other = run_job(Job(str(toy), "0123456789abcdef", (cell,), "cpu", None))
    assert other[0].status == "failed" and "0123456789abcdef" in other[0].error
    assert suite.code.digest in other[0].error


def test_a_project_module_edited_after_this_process_ran_it_is_stale():
    from harness.run.executors import stale_modules
    from harness.spec.identity import CodeIdentity

    files = ("baselines/_edited_in_this_test.py", "suite:task.py")
    assert stale_modules(CodeIdentity("d1", files, ("aaaa", "1111"))) == []
    assert stale_modules(CodeIdentity("d2", files, ("aaaa", "2222"))) == []  # suite: reloads
    assert stale_modules(CodeIdentity("d3", files, ("bbbb", "2222"))) == [files[0]]


def test_a_same_size_edit_within_a_second_is_not_run_from_old_bytecode(toy: Path,
                                                                       monkeypatch):
    monkeypatch.setattr("sys.dont_write_bytecode", False)  # as for most users
    task = toy / "task.py"
    task.write_text(task.read_text() + "\nMARKER = 7.0\n")
    first = load_suite(str(toy))
    assert first.task.__globals__["MARKER"] == 7.0
    assert list(toy.glob("__pycache__/task*.pyc"))
    stat = task.stat()
    task.write_text(task.read_text().replace("MARKER = 7.0", "MARKER = 8.0"))
    os.utime(task, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    second = load_suite(str(toy))
    assert second.task.__globals__["MARKER"] == 8.0
    assert second.code.digest != first.code.digest

