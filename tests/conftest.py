from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from baselines.mnist import FILES

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPARSEBENCH_DATA") or REPO.parent / "shared" / "data")
HAVE_MNIST = all((DATA / "mnist" / f"{name}.gz").is_file() for name in FILES)
IN_CI = bool(os.environ.get("CI"))


def missing(what: str) -> None:
    """Something a test needs is absent: skip on a developer's machine, fail in CI, which
    provides everything the tests need (nothing may skip there)."""
    if IN_CI:
        pytest.fail(f"{what}; CI must provide it")
    pytest.skip(what, allow_module_level=True)


def require(*modules: str) -> None:
    """Import these modules, or report them as missing (skip here, fail in CI)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing(f"{name} is not installed (pip install -e '.[dist]'; nox -s tests does)")


# The real MNIST files: tests that need them skip without them, except in CI.
needs_mnist = pytest.mark.skipif(not HAVE_MNIST and not IN_CI,
                                 reason=f"no MNIST files in {DATA / 'mnist'}; set "
                                 "SPARSEBENCH_DATA to the shared data folder")


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A private copy of the toy suite, safe to edit."""
    folder = tmp_path / "toy"
    shutil.copytree(FIXTURES / "toy", folder)
    return folder


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module (module scope, so that module-scoped fixtures
    that train run under it too): tiny models run no faster on two, and many times
    slower on a busy two-core machine (spinning OpenMP workers)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SMOKE_ENV = {**os.environ, "SPARSEBENCH_DATA": str(DATA)}


@dataclass(frozen=True)
class SmokeRun:
    """One `sparsebench reproduce --tier smoke` of a suite: its exit, output and files."""

    returncode: int
    stdout: str
    stderr: str
    store: Path
    out: Path


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Callable[[str], SmokeRun]:
    """The smoke tier of a suite, reproduced once per test session (one thread, in a
    fresh store) and shared: tests/test_every_suite_smoke.py checks every suite's report,
    and a suite's own tests read its numbers from the same run."""
    runs: dict[str, SmokeRun] = {}

    def get(name: str) -> SmokeRun:
        if name not in runs:
            root = tmp_path_factory.mktemp(f"smoke_{name}")
            proc = subprocess.run(
                [sys.executable, "-m", "harness.cli", "reproduce", "--suite", name, "--tier",
                 "smoke", "--threads", "1", "--store", str(root / "store.sqlite"), "--out",
                 str(root / "out"), "--no-progress"],
                cwd=REPO, capture_output=True, text=True, timeout=600,
                env=SMOKE_ENV)
            runs[name] = SmokeRun(proc.returncode, proc.stdout, proc.stderr,
                                  root / "store.sqlite", root / "out")
        return runs[name]

    return get


def restate(snap: dict, source: str) -> dict:
    """A stored file (expected/<tier>.json) edited by a test, its copies of each number
    made to agree again from ``source`` ("cells" or "records"): what a file written by a
    run that gave the edited numbers would hold (harness/refs/reference_file.py refuses a file
    whose copies disagree)."""
    from harness.refs.reference_file import cell_finder
    from harness.refs.regress import configs_of

    find = cell_finder(snap["cells"])
    for record in snap.get("records", []):
        if record["stage"] != "main":
            continue
        cell = snap["cells"][find(record["params"])]
        for name in cell["metrics"]:
            if source == "records":
                cell["metrics"][name] = record["metrics"][name]
            else:
                record["metrics"][name] = cell["metrics"][name]
    snap["configs"] = configs_of(snap["cells"])
    return snap
