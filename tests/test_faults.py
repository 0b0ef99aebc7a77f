"""Faults and hostile input at the command line: exit codes, messages, nothing lost.

FAULT MATRIX (the fault probe's findings; ``FAULTS`` below injects each and checks the
stated behaviour, the tests after it those that need a process or two commands):

 1. A task calls ``sys.exit(7)``: the cell is stored as failed with ``SystemExit: 7`` and
    the run goes on and exits 3 (any BaseException but KeyboardInterrupt).
 2. The store's folder is read-only: ``report`` and ``export`` read it without making a
    lock there; ``run`` is one line naming the folder as not writable.
 3. The disk fills mid-run: one line saying the disk is full, naming the store, that the
    cells already stored are kept and that the same command resumes from the store.
 4. Random bytes in the middle of the store: one line naming the file as damaged or not
    a sparsebench store, with ``sqlite3 <file> ".recover"`` or a new ``--store``.
 5. A hand-edited row holds invalid JSON: one line naming the store, the cell and the
    column.
 6. ``expected/<tier>.json`` truncated, or a JSON list: one line naming the file, what is
    wrong and ``sparsebench regress --update --suite S --tier T``, for ``report`` and, before
    anything trains, for ``regress``.
 7. ``sparsebench report ... | head -1``: every report is written whole (a temporary file
    replaced) before anything is printed; the closed pipe stops neither the writing nor
    shows a traceback, and the command exits 141.
 8. A task returns an undeclared (misspelled) metric, or a vector longer than its labels:
    the cell fails with a reason naming the metric and the declared ones (the vector's
    length and the labels' count); the run exits 3.
 9. A hanging task: ``--cell-timeout SECONDS`` stores the cell as failed, "ran past
    --cell-timeout N s", and the run goes on.
10. A reported value of ``9e-99999999``: refused when claims.toml loads (an exponent beyond
    ±400), one line naming the file and the field, in bounded time.
11. ``--threads -2`` / ``0``, ``--batch 0``, ``--workers 0``, ``--out <a file>``: one line
    each; a tier of more than 100 000 cells is refused before its product is expanded,
    with the count and the factors that make it.
12. A directory given as ``--store``: "is a directory; give a file path such as
    DIR/store.sqlite"; none of the messages of 2, 3 and 12 advises moving the store aside.
13. ``reports/out/index.html`` lists every suite report in the folder, an earlier
    command's too.
14. Several parameter-type errors in suite.toml: all of them, in one line joined by '; '.
15. A committed reference edited by hand (a ``records`` value set to 99.0, or a ``cells``
    or ``configs`` one): ``regress``, ``report`` and ``verify`` refuse it in one line naming
    the file, the cell and both values, before anything trains.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.cli import main
from harness.run.store import Store
from tests.conftest import FIXTURES, missing
from tests.test_suite_validation import CLAIMS_CASES, SUITE_CASES, edit

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SMOKE = ["--tier", "smoke", "--no-progress"]


# ------------------------------------------------------------------ the fault matrix


@dataclass
class Case:
    """What one fault's injection works with, and what it leaves for the check."""

    toy: Path  # a private copy of the toy suite
    tmp: Path
    smoke_store: Path  # a store that holds the toy's smoke tier (read-only, to copy)
    monkeypatch: pytest.MonkeyPatch
    store: Path = field(init=False)  # the store the command uses
    cell: str = ""  # a cell id the injection picked
    started: float = 0.0  # when the injection handed over (time.perf_counter)

    def __post_init__(self) -> None:
        self.store = self.tmp / "store.sqlite"

    def filled(self, folder: Path | None = None) -> Path:
        """A copy of the smoke store (in ``folder``), as the command's store."""
        folder = folder or self.tmp
        folder.mkdir(parents=True, exist_ok=True)
        self.store = folder / "store.sqlite"
        shutil.copy(self.smoke_store, self.store)
        return self.store

    def words(self, text: str) -> str:
        return text.format(store=self.store, toy=self.toy, tmp=self.tmp, cell=self.cell)


@dataclass(frozen=True)
class Fault:
    item: int  # the probe's finding
    id: str
    inject: Callable[[Case], list[str]]  # sets the fault up; returns main()'s arguments
    code: int  # the exit code
    says: tuple[str, ...]  # in the one error line (exit 2), else in stdout
    not_says: tuple[str, ...] = ()
    check: Callable[[Case], None] | None = None  # what else must hold afterwards


def call(argv: list[str]) -> int:
    """main()'s exit code, also where argparse exits (a bad option)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


def run_argv(case: Case, *extra: str) -> list[str]:
    return ["run", "--suite", str(case.toy), *SMOKE, "--store", str(case.store), *extra]


def report_argv(case: Case, *extra: str) -> list[str]:
    return ["report", "--suite", str(case.toy), "--tier", "smoke", "--store", str(case.store),
            "--out", str(case.tmp / "out"), *extra]


def failed_errors(store: Path) -> list[str]:
    with sqlite3.connect(store) as db:
        return [e for (e,) in db.execute("SELECT error FROM cells WHERE status = 'failed'")]


def count_cells(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]


# -- 1: sys.exit in a task

def task_exits(case: Case) -> list[str]:
    edit(case.toy / "task.py", "import os\n", "import os\nimport sys\n")
    edit(case.toy / "task.py", "    noise = torch.randn",
         '    if params["arm"] == "c":\n        sys.exit(7)\n    noise = torch.randn')
    return run_argv(case)


def only_arm_c_failed(case: Case) -> None:
    errors = failed_errors(case.store)
    assert len(errors) == 3 and all(e.startswith("SystemExit: 7 (at task.py:") for e in errors)
    assert count_cells(case.store) == 15  # and arms a and b: 3 trials and 3 seeds each


# -- 2: a read-only store folder

class _ReadOnlyWal:
    """What SQLite gives a user for a store in WAL mode in a folder it may not write: a
    connection whose first statement fails (it cannot make the shared-memory file)."""

    def execute(self, *args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    def close(self) -> None:
        pass


def read_only(case: Case, folder: Path) -> None:
    """Make ``folder`` read-only: its mode for a user, and for root (whom modes do not
    stop) the calls that a user would see fail: os.access, opening a file to write and
    reading a WAL store without the immutable flag."""
    for path in [folder, *folder.iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    real_access, real_open, real_connect = os.access, builtins.open, sqlite3.connect

    def inside(path: object) -> bool:
        return isinstance(path, str | Path) and Path(path).resolve().is_relative_to(folder)

    def access(path, mode, *args, **kwargs) -> bool:
        if mode & os.W_OK and inside(path):
            return False
        return real_access(path, mode, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if set(mode) & set("wax+") and inside(file):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    def connect(database, *args, **kwargs):
        text = str(database)
        if text.startswith("file:") and "immutable=1" not in text and \
                inside(text.removeprefix("file://").split("?")[0]):
            return _ReadOnlyWal()
        return real_connect(database, *args, **kwargs)

    if os.geteuid() == 0:
        case.monkeypatch.setattr(os, "access", access)
        case.monkeypatch.setattr(builtins, "open", open_)
        case.monkeypatch.setattr(sqlite3, "connect", connect)


def read_only_store(case: Case) -> Path:
    folder = (case.tmp / "ro").resolve()
    case.filled(folder)
    read_only(case, folder)
    return folder


def report_read_only(case: Case) -> list[str]:
    read_only_store(case)
    return report_argv(case)


def export_read_only(case: Case) -> list[str]:
    read_only_store(case)
    return ["export", "--suite", str(case.toy), "--tier", "smoke", "--store", str(case.store),
            "--out", str(case.tmp / "cells.csv")]


def run_read_only(case: Case) -> list[str]:
    read_only_store(case)
    return run_argv(case)


def no_lock_made(case: Case) -> None:
    assert not Path(f"{case.store}.lock").exists()
    written = [case.tmp / "out" / "toy-smoke.html", case.tmp / "cells.csv"]
    assert any(p.is_file() for p in written)


# -- 3: the disk fills mid-run

def disk_fills(case: Case) -> list[str]:
    real, writes = Store._write, []

    def write(store: Store, record, rows) -> None:
        if len(writes) == 4:
            raise sqlite3.OperationalError("database or disk is full")
        writes.append(record.id)
        real(store, record, rows)

    case.monkeypatch.setattr(Store, "_write", write)
    return run_argv(case)


def resumes_after_freeing_space(case: Case) -> None:
    assert count_cells(case.store) == 4
    case.monkeypatch.undo()  # space freed
    assert main(run_argv(case)) == 0


# -- 4: random bytes in the middle of the store

def damage_middle(case: Case) -> list[str]:
    store = case.filled()
    data, rng = bytearray(store.read_bytes()), random.Random(0)
    for i in range(3 * 4096, len(data) - 4096):  # the schema's pages stay: it opens
        data[i] = rng.randrange(256)
    store.write_bytes(bytes(data))
    return report_argv(case)


# -- 5: a hand-edited row with invalid JSON

def bad_json_row(case: Case) -> list[str]:
    with sqlite3.connect(case.filled()) as db:
        case.cell = db.execute("SELECT id FROM cells WHERE stage = 'main' "
                               "ORDER BY id").fetchone()[0]
        db.execute("UPDATE cells SET params = '{\"arm\": ' WHERE id = ?", (case.cell,))
    return report_argv(case)


# -- 6: a broken expected/<tier>.json

def expected_file(case: Case, text: str) -> None:
    (case.toy / "expected").mkdir()
    (case.toy / "expected" / "smoke.json").write_text(text)


def truncated_reference(case: Case) -> list[str]:
    expected_file(case, '{"suite": "toy", "records": [{"id": "0a')
    return report_argv(case)  # no store: the report would render the reference


def list_reference(case: Case) -> list[str]:
    expected_file(case, "[1, 2]\n")
    return report_argv(case)


def truncated_regress(case: Case) -> list[str]:
    expected_file(case, '{"cells": {')
    return ["regress", "--suite", str(case.toy), *SMOKE, "--store", str(case.store)]


def edited_reference(where: str, command: str) -> Callable[[Case], list[str]]:
    """A reference of the smoke tier written by ``regress --update``, then one number in
    ``where`` (records, cells or configs) set to 99.0 by hand."""
    def inject(case: Case) -> list[str]:
        case.filled()
        update = ["regress", "--update", "--suite", str(case.toy), *SMOKE, "--store",
                  str(case.store)]
        assert call(update) == 0
        path = case.toy / "expected" / "smoke.json"
        ref = json.loads(path.read_text())
        if where == "records":
            record = next(r for r in ref["records"] if r["stage"] == "main")
            record["metrics"]["score"] = 99.0
        elif where == "cells":
            next(iter(ref["cells"].values()))["metrics"]["score"] = 99.0
        else:
            next(iter(ref["configs"].values()))["score"]["mean"] = 99.0
        path.write_text(json.dumps(ref))
        case.store = case.tmp / "fresh.sqlite"  # nothing of the run to fall back on
        if command == "report":
            return report_argv(case)
        sample = ["--sample", "2"] if command == "verify" else []
        return [command, "--suite", str(case.toy), "--tier", "smoke", "--no-progress",
                "--store", str(case.store), *sample]
    return inject


def nothing_trained(case: Case) -> None:
    assert not case.store.exists()


# -- 8: metrics the suite does not declare

def misspelled_metric(case: Case) -> list[str]:
    edit(case.toy / "task.py", '"score": score,', '"scroe": score,')
    return run_argv(case, "--where", "arm=a")


def long_vector(case: Case) -> list[str]:
    edit(case.toy / "task.py", '"layers": [float(noise[1]), float(noise[2])],',
         '"layers": [float(noise[1]), float(noise[2]), 0.0],')
    return run_argv(case, "--where", "arm=a")


def all_three_trials_failed(case: Case) -> None:
    assert len(failed_errors(case.store)) == count_cells(case.store) == 3


# -- 9: a hanging task

def hanging_task(case: Case) -> list[str]:
    edit(case.toy / "suite.toml", "sleep = 0.0", "sleep = 30.0")
    case.started = time.perf_counter()
    return run_argv(case, "--where", "arm=a", "--cell-timeout", "0.25")


def stopped_in_time(case: Case) -> None:
    all_three_trials_failed(case)
    assert time.perf_counter() - case.started < 20  # 3 cells of 30 s each, stopped at 0.25 s


# -- 10, 11, 12, 14: bad input

def huge_exponent(case: Case) -> list[str]:
    edit(case.toy / "claims.toml", '{ score = "10.0 ± 0.5" }', '{ score = "9e-99999999" }')
    return ["list", "--suite", str(case.toy)]


def option(*extra: str) -> Callable[[Case], list[str]]:
    return lambda case: run_argv(case, *extra)


def out_is_a_file(case: Case) -> list[str]:
    (case.tmp / "afile").write_text("not a folder")
    return [*report_argv(case)[:-2], "--out", str(case.tmp / "afile")]


def huge_tier(case: Case) -> list[str]:
    values = ", ".join(str(0.001 * (i + 1)) for i in range(400))
    edit(case.toy / "suite.toml", "[tiers.smoke]", f'[[grid]]\nname = "huge"\nfactors = {{ '
         f"spread = [{values}], lr = [{values}] }}\n\n[tiers.smoke]")
    return ["list", "--suite", str(case.toy)]


def store_is_a_directory(case: Case) -> list[str]:
    case.store = case.tmp / "stores"
    case.store.mkdir()
    return run_argv(case)


def report_store_is_a_directory(case: Case) -> list[str]:
    store_is_a_directory(case)
    return report_argv(case)


def two_type_errors(case: Case) -> list[str]:
    edit(case.toy / "suite.toml", "[tiers.smoke]\nseeds = 3",
         "[tiers.smoke]\nseeds = 3\nparams = { fail_arm = 3, spread = 'wide' }")
    return ["list", "--suite", str(case.toy)]


NO_ASIDE = ("aside", "recover")  # a healthy store is never to be moved or recovered
FAULTS = [
    Fault(1, "task-calls-sys-exit", task_exits, 3,
          ("failed: tune arm=c", "SystemExit: 7", "--retry-failed"), check=only_arm_c_failed),
    Fault(2, "report-reads-a-read-only-folder", report_read_only, 0,
          ("wrote {tmp}/out/toy-smoke.md",), check=no_lock_made),
    Fault(2, "export-reads-a-read-only-folder", export_read_only, 0,
          ("wrote {tmp}/cells.csv: 378 rows",), check=no_lock_made),
    Fault(2, "run-in-a-read-only-folder", run_read_only, 2,
          ("{tmp}/ro: folder is not writable",), NO_ASIDE),
    Fault(3, "disk-full-mid-run", disk_fills, 2,
          ("{store}: the disk is full", "the cells already stored are kept",
           "run the same command again and it resumes from the store"), NO_ASIDE,
          check=resumes_after_freeing_space),
    Fault(4, "random-bytes-mid-store", damage_middle, 2,
          ("{store}: damaged or not a readable sparsebench store", 'sqlite3 {store} ".recover"',
           "give --store a new path")),
    Fault(5, "invalid-json-in-a-row", bad_json_row, 2,
          ("{store}: cell {cell}: column params is not valid JSON",)),
    Fault(6, "truncated-expected-file-report", truncated_reference, 2,
          ("{toy}/expected/smoke.json: not JSON at line 1 column",
           "rewrite it with: sparsebench regress --update --suite {toy} --tier smoke")),
    Fault(6, "expected-file-is-a-list", list_reference, 2,
          ("{toy}/expected/smoke.json: holds a JSON list, not an object",
           "sparsebench regress --update --suite {toy} --tier smoke")),
    Fault(6, "truncated-expected-file-regress", truncated_regress, 2,
          ("{toy}/expected/smoke.json: not JSON at line 1 column",
           "sparsebench regress --update --suite {toy} --tier smoke"), check=nothing_trained),
    *(Fault(15, f"edited-{where}-{command}", edited_reference(where, command), 2,
            ("{toy}/expected/smoke.json: the copies of its numbers disagree", "99.0",
             "edited after it was written"), check=nothing_trained)
      for where, command in [("records", "regress"), ("records", "report"),
                             ("records", "verify"), ("cells", "regress"),
                             ("configs", "report")]),
    Fault(8, "misspelled-metric", misspelled_metric, 3,
          ("undeclared metric 'scroe'", "suite.toml [metrics] declares score, val_score"),
          check=all_three_trials_failed),
    Fault(8, "vector-longer-than-labels", long_vector, 3,
          ("metric 'layers' has 3 values but its labels in suite.toml name 2 (l1, l2)",),
          check=all_three_trials_failed),
    Fault(9, "hanging-task", hanging_task, 3, ("ran past --cell-timeout 0.25 s",),
          check=stopped_in_time),
    Fault(10, "reported-value-9e-99999999", huge_exponent, 2,
          ("{toy}/claims.toml: table[0].row[0].reported.score:", "exponent beyond ±400")),
    Fault(11, "threads-negative", option("--threads", "-2"), 2,
          ("run: argument --threads: -2 is not positive",)),
    Fault(11, "threads-zero", option("--threads", "0"), 2, ("argument --threads: 0 is not",)),
    Fault(11, "batch-zero", option("--batch", "0"), 2, ("argument --batch: 0 is not",)),
    Fault(11, "workers-zero", option("--workers", "0"), 2, ("argument --workers: 0 is not",)),
    Fault(11, "out-is-a-file", out_is_a_file, 2,
          ("argument --out: {tmp}/afile is a file; give a folder",)),
    Fault(11, "tier-over-the-cell-cap", huge_tier, 2,
          ("{toy}/suite.toml: tiers.smoke: 480,018 cells", "cap of 100,000 cells per tier",
           "grid 'huge': spread 400 x lr 400")),
    Fault(12, "store-is-a-directory-run", store_is_a_directory, 2,
          ("{store}: is a directory; give a file path such as {store}/store.sqlite",), NO_ASIDE),
    Fault(12, "store-is-a-directory-report", report_store_is_a_directory, 2,
          ("{store}: is a directory; give a file path such as {store}/store.sqlite",), NO_ASIDE),
    Fault(14, "every-parameter-type-error", two_type_errors, 2,
          ("tiers.smoke.params.fail_arm: is an integer (3)",
           "; tiers.smoke.params.spread: is a string ('wide')")),
]


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory) -> Path:
    """The toy suite's smoke tier, run once for the module (tests copy the store)."""
    root = tmp_path_factory.mktemp("smoke_store")
    shutil.copytree(FIXTURES / "toy", root / "toy")
    assert main(["run", "--suite", str(root / "toy"), *SMOKE, "--store",
                 str(root / "store.sqlite")]) == 0
    return root / "store.sqlite"


@pytest.mark.parametrize("fault", FAULTS, ids=[f"{f.item}-{f.id}" for f in FAULTS])
def test_fault_matrix(fault: Fault, toy: Path, tmp_path: Path, smoke_store: Path, monkeypatch,
                      capsys):
    case = Case(toy, tmp_path, smoke_store, monkeypatch)
    argv = fault.inject(case)
    capsys.readouterr()
    code = call(argv)
    out, err = capsys.readouterr()
    assert code == fault.code, out + err
    assert "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("sparsebench: error: "), err
    for words in fault.says:
        assert case.words(words) in (err if code == 2 else out), (words, out, err)
    for words in fault.not_says:
        assert words not in err, err
    if fault.check:
        fault.check(case)


# ------------------------------------------------------------------ faults of a process


def test_report_into_a_closed_pipe_writes_every_file_then_exits_141(toy: Path, tmp_path: Path,
                                                                    smoke_store: Path):
    """7: `sparsebench report ... | head -1`, the reader gone before the first line
    (unbuffered, so that the first print meets the closed pipe): the report, its summary
    and the index are written whole, nothing half-written is left, no traceback."""
    out = tmp_path / "out"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "harness.cli", "report", "--suite", str(toy), "--tier",
             "smoke", "--store", str(smoke_store), "--out", str(out)], cwd=REPO,
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        os.close(write_end)
    assert proc.returncode == 141
    for noise in ("Traceback", "BrokenPipeError", "Exception ignored"):
        assert noise not in proc.stderr, proc.stderr
    assert (out / "toy-smoke.md").read_text().count("## ") > 3
    assert (out / "toy-smoke.html").read_text().rstrip().endswith("</html>")
    assert (out / "index.html").read_text().rstrip().endswith("</html>")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_the_index_lists_the_reports_of_earlier_commands(toy: Path, tmp_path: Path,
                                                        smoke_store: Path, capsys):
    """13: two commands write into one folder; the second's index links both reports."""
    out = tmp_path / "out"
    base = ["report", "--suite", str(toy), "--store", str(smoke_store), "--out", str(out)]
    assert main([*base, "--tier", "smoke"]) == 0
    assert main([*base, "--tier", "quick"]) == 0  # nothing stored: every verdict not run
    capsys.readouterr()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="toy-quick.html"' in index and 'href="toy-smoke.html"' in index
    earlier = re.search(r'<section class="earlier" id="earlier">(.*?)</section>', index, re.S)
    assert earlier and "toy-smoke.html" in earlier.group(1) and "tier <code>smoke</code>" \
        in earlier.group(1) and "supported" in earlier.group(1)
    assert "toy-quick.html" not in earlier.group(1)  # this command's own card has it


def test_a_huge_reported_exponent_is_bounded_in_the_forensics_too():
    """10: the write-up checks never raise ten to a huge power, whatever reaches them."""
    from harness.run.cell_timeout import alarm
    from harness.stats.forensics import Printed

    with alarm(5.0), pytest.raises(ValueError, match="exponent beyond"):  # not hours
        Printed.parse("9e-99999999")


# ------------------------------------------------------------------ malformed suite files


@pytest.mark.parametrize("file,case", [("suite.toml", c) for c in SUITE_CASES]
                         + [("claims.toml", c) for c in CLAIMS_CASES])
def test_every_malformed_file_is_one_line_exit_2(toy: Path, tmp_path: Path, capsys, file, case):
    old, new, _, _ = case
    edit(toy / file, old, new)
    store = tmp_path / "store.sqlite"
    assert main(["run", "--suite", str(toy), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sparsebench: error: ")
    assert str(toy / file) in err and "Traceback" not in err
    assert not store.exists() and not Path(str(store) + ".lock").exists()


def test_random_byte_damage_never_escapes_as_a_traceback(toy: Path, capsys):
    """300 seeded mutations of both files: each either loads or is an error, one line per
    problem."""
    rng = random.Random(0)
    originals = {f: (toy / f).read_bytes() for f in ("suite.toml", "claims.toml")}
    outcomes = {0: 0, 2: 0}
    for _ in range(300):
        name = rng.choice(list(originals))
        data = bytearray(originals[name])
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            action = rng.choice(["delete", "insert", "replace"])
            junk = rng.choice([b"\xff", b"[", b"]", b"=", b'"', b"\n", b"9" * 40, b"{", b"-1"])
            if action == "delete":
                del data[pos:pos + rng.randint(1, 20)]
            elif action == "insert":
                data[pos:pos] = junk
            else:
                data[pos:pos + len(junk)] = junk
        for f, content in originals.items():
            (toy / f).write_bytes(bytes(data) if f == name else content)
        code = main(["list", "--suite", str(toy)])
        out = capsys.readouterr()
        assert code in outcomes, out.err
        outcomes[code] += 1
        if code == 2:
            lines = out.err.splitlines()
            assert lines and all(line.startswith("sparsebench: error: ") for line in lines), \
                out.err
            assert "Traceback" not in out.err
    assert outcomes[2] > 200  # most damage is caught, none escapes


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def slow_toy(toy: Path, seconds: float = 0.15) -> Path:
    edit(toy / "suite.toml", "sleep = 0.0", f"sleep = {seconds}")
    return toy


def test_second_writer_refuses_cleanly(toy: Path, tmp_path: Path):
    store = tmp_path / "store.sqlite"
    # the first run takes ~10 s, so it still holds the store when the second starts
    first = subprocess.Popen(cli("run", "--suite", str(slow_toy(toy, 0.6)), "--tier", "smoke",
                                 "--store", str(store), "--no-progress"), cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not Path(str(store) + ".lock").exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        second = subprocess.run(cli("run", "--suite", str(toy), "--tier", "smoke", "--store",
                                    str(store)), cwd=REPO, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert "in use by pid" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0


def test_corrupted_store_is_refused_with_a_recovery_hint(toy: Path, tmp_path: Path):
    store = tmp_path / "store.sqlite"
    store.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    proc = subprocess.run(cli("run", "--suite", str(toy), "--store", str(store)), cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "not a readable sparsebench store" in proc.stderr and ".recover" in proc.stderr


def test_kill_9_five_times_then_resume(toy: Path, tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "kill_resume.py"), "--suite",
         str(slow_toy(toy)), "--tier", "smoke", "--kills", "5", "--workdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kills survived: 5 of 5" in proc.stdout
    assert "cells run twice: 0" in proc.stdout and "reports identical: True" in proc.stdout


def _browser(profile: Path) -> list[str]:
    """Headless Chromium that reaches nothing outside (a report page loads nothing)."""
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}"]


def _measured_dom(html: str, measure: str, tmp_path: Path, args: list[str]) -> str:
    """The page forbids scripts: a copy that allows inline ones gets ``measure``, a script
    writing laid-out sizes into the DOM, which ``--dump-dom`` prints after it ran."""
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("default-src 'none';", "default-src 'none'; "
                                  "script-src 'unsafe-inline';")
                     .replace("</body>", measure + "</body>"))
    return subprocess.run([*args, "--dump-dom", probe.as_uri()], capture_output=True,
                          text=True, timeout=120).stdout


def test_hostile_text_renders_inert_in_a_real_browser(toy: Path, tmp_path: Path):
    if CHROMIUM is None:
        missing("chromium is not installed (.ci/run installs it)")
    hostile = ("<script>document.title='pwned'</script><img src=x onerror=\\\"document.title="
               "'pwned'\\\"> {{ 7*7 }} {% raw %}")
    edit(toy / "claims.toml", 'quote = "A beats B"', f'quote = "{hostile}"')
    edit(toy / "claims.toml", 'title = "Main table"',
         'title = "<b>Main</b> <script>x()</script> costs $5 and $6"')
    out = tmp_path / "out"
    assert main(["reproduce", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]) == 0
    page = out / "toy-smoke.html"
    args = _browser(tmp_path / "profile")
    dom = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "<title>Toy suite for engine tests" in dom and "pwned" not in dom.split("<body")[0]
    assert "<script>document.title" not in dom and "&lt;script&gt;document.title" in dom
    assert "{{ 7*7 }}" in dom and "{% raw %}" in dom
    # the write-up's table, tuning, the write-up against itself, seed statistics
    assert dom.count("<table>") == 4
    assert "&lt;b&gt;Main&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt; costs $5" in dom
    shot = REPO / "reports" / "out" / "hostile-input.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*args, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_a_wide_table_scrolls_in_its_box_not_the_page_in_a_real_browser(toy: Path,
                                                                         tmp_path: Path):
    """A write-up table of 19 columns in an 800 px window. The page forbids scripts, so a
    copy of it gets one that writes the laid-out widths into the DOM (``--dump-dom`` prints
    the DOM after scripts ran): the document must be no wider than the viewport, while the
    table's own box is (so the table really is too wide and scrolls inside it)."""
    if CHROMIUM is None:
        missing("chromium is not installed (.ci/run installs it)")
    wide = "".join(f', {{ key = "s{i}", label = "Score of a long-named setting {i}", '
                   'metric = "score", margin = 1.5, margin_reason = "as the first" }'
                   for i in range(6))
    edit(toy / "claims.toml", "higher_is_better = true },", f"higher_is_better = true }}{wide},")
    for mean in ("10.0", "9.0"):
        cells = "".join(f', s{i} = "{mean} ± 0.5"' for i in range(6))
        edit(toy / "claims.toml", f'reported = {{ score = "{mean} ± 0.5" }}',
             f'reported = {{ score = "{mean} ± 0.5"{cells} }}')
    out = tmp_path / "out"
    assert main(["reproduce", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]) == 0
    page = out / "toy-smoke.html"
    html = page.read_text()
    assert "default-src 'none';" in html
    measure = ("<script>const d = document.documentElement, b = document.body;"
               "b.dataset.page = d.scrollWidth + ' ' + d.clientWidth;"
               "b.dataset.boxes = [...document.querySelectorAll('.scroll')]"
               ".map(e => e.scrollWidth + ' ' + e.clientWidth).join(',');</script>")
    args = [*_browser(tmp_path / "profile"), "--window-size=800,1200"]
    dom = _measured_dom(html, measure, tmp_path, args)
    page_width, viewport = map(int, re.search(r'data-page="(\d+) (\d+)"', dom).groups())
    boxes = [tuple(map(int, box.split())) for box in
             re.search(r'data-boxes="([\d ,]+)"', dom).group(1).split(",")]
    assert 700 <= viewport <= 800 and page_width <= viewport
    # the flagged rows, the table, tuning, the write-up against itself, seed statistics
    assert len(boxes) == 5
    assert boxes[1][0] > boxes[1][1] > 0  # the write-up's table is wider than its box
    assert dom.count('<td class="verdict"><span class="v ') >= 14  # each reported cell's
    assert '<span class="v contradicted">contradicted</span>' in dom
    shot = REPO / "reports" / "out" / "wide-table.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*args, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000


@pytest.mark.parametrize("width", [800, 1280])
def test_flagged_rows_fit_the_window_with_their_reasoning_folded_in_a_real_browser(
        toy: Path, tmp_path: Path, width: int):
    """The flagged section is a table of one row per verdict, no wider than an 800 or 1280
    px window, each row's reasoning closed until opened (a folded <details> lays out
    nothing), and the write-up's own table follows it."""
    if CHROMIUM is None:
        missing("chromium is not installed (.ci/run installs it)")
    out = tmp_path / "out"
    assert main(["reproduce", "--suite", str(toy), "--tier", "smoke", "--store",
                 str(tmp_path / "s.sqlite"), "--out", str(out), "--no-progress"]) == 0
    html = (out / "toy-smoke.html").read_text()
    measure = ("<script>const d = document.documentElement, b = document.body;"
               "const f = document.querySelector('table.flags');"
               "b.dataset.page = d.scrollWidth + ' ' + d.clientWidth;"
               "b.dataset.flags = f.closest('.scroll').scrollWidth + ' ' "
               "+ f.closest('.scroll').clientWidth;"
               "b.dataset.rows = f.querySelectorAll('tbody tr:not(.why)').length;"
               "b.dataset.shown = [...f.querySelectorAll('tr.why details')]"
               ".filter(e => e.open || e.querySelector('p').checkVisibility()).length;"
               "b.dataset.order = (f.getBoundingClientRect().top < document.querySelectorAll("
               "'table')[1].getBoundingClientRect().top) ? 'flags-first' : 'other';</script>")
    args = [*_browser(tmp_path / "profile"), f"--window-size={width},1200"]
    dom = _measured_dom(html, measure, tmp_path, args)
    page_width, viewport = map(int, re.search(r'data-page="(\d+) (\d+)"', dom).groups())
    inner, box = map(int, re.search(r'data-flags="(\d+) (\d+)"', dom).groups())
    assert width - 100 <= viewport <= width and page_width <= viewport
    assert inner <= box  # the rows wrap inside the window, no sideways scroll
    rows = int(re.search(r'data-rows="(\d+)"', dom).group(1))
    assert rows == html.count("<summary>Why</summary>") > 0
    assert re.search(r'data-shown="0"', dom) and 'data-order="flags-first"' in dom
