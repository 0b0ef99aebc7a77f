"""Intermediates shared between cells (harness/artifacts.py): computed once, read after,
and a cell's numbers the same whether its artifact was computed, read or not cached."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest
import torch

from harness.artifacts import folder_for, key_digest, seeded_context, shared
from harness.run.execute import execute_cell
from harness.run.runner import Runner
from harness.run.store import Store
from harness.spec.plan import make_cell, resolve
from harness.spec.suite import load_suite
from harness.task_api import RunContext
from tests.conftest import DATA, needs_mnist

KEY = {"artifact": "test", "n": 3}


def _ctx(folder: Path | None, seed: int = 7) -> RunContext:
    ctx = RunContext(seed=seed)
    ctx.artifacts = folder
    return ctx


class Counted:
    """A compute that counts its calls and returns a fresh random tensor each time (so a
    value read back is told from a second computation)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"weights": torch.rand(5, generator=torch.Generator().manual_seed(self.calls)),
                "curve": [0.5, 0.25]}


def _same(a: dict, b: dict) -> bool:
    return torch.equal(a["weights"], b["weights"]) and a["curve"] == b["curve"]


def test_shared_computes_once_then_reads_the_same_value(tmp_path: Path):
    compute = Counted()
    first = shared(_ctx(tmp_path), KEY, compute)
    second = shared(_ctx(tmp_path), KEY, compute)
    assert compute.calls == 1
    assert _same(first, second)
    assert [p.name for p in tmp_path.glob("*.pt")] == [f"{key_digest(KEY)}.pt"]


def test_rng_after_shared_is_the_same_computed_read_or_uncached(tmp_path: Path):
    """compute draws from the global RNG (through seeded_context) and from the cell's
    generator; what the cell draws afterwards must not show whether it ran."""
    calls = []

    def draws_after(folder: Path | None, call_shared: bool = True) -> list[list[float]]:
        torch.manual_seed(7)
        ctx = _ctx(folder)
        torch.rand(2), torch.rand(2, generator=ctx.generator)  # the cell drew before

        def compute() -> list[float]:
            calls.append(folder)
            private = seeded_context(ctx, KEY)
            return [*torch.rand(3).tolist(), *torch.rand(3, generator=ctx.generator).tolist(),
                    *torch.rand(3, generator=private.generator).tolist()]

        if call_shared:
            shared(ctx, KEY, compute)
        return [torch.rand(4).tolist(), torch.rand(4, generator=ctx.generator).tolist()]

    never = draws_after(None, call_shared=False)
    computed = draws_after(tmp_path)
    read = draws_after(tmp_path)
    uncached = draws_after(None)
    assert calls == [tmp_path, None]  # the second cached call read
    assert computed == read == uncached == never


def test_seeded_context_draws_depend_on_the_key_alone():
    def value(seed: int, key: dict) -> list[float]:
        torch.manual_seed(seed)
        private = seeded_context(_ctx(None, seed), key)
        return [*torch.rand(3).tolist(), *torch.rand(3, generator=private.generator).tolist()]

    assert value(1, KEY) == value(2, KEY)
    assert value(1, KEY) != value(1, {**KEY, "n": 4})


def test_different_keys_give_different_files(tmp_path: Path):
    compute = Counted()
    a = shared(_ctx(tmp_path), KEY, compute)
    b = shared(_ctx(tmp_path), {**KEY, "n": 4}, compute)
    assert compute.calls == 2 and not _same(a, b)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == sorted(
        f"{key_digest(k)}.pt" for k in (KEY, {**KEY, "n": 4}))
    assert _same(shared(_ctx(tmp_path), {**KEY, "n": 4}, compute), b) and compute.calls == 2


def test_without_a_folder_it_just_computes(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    compute = Counted()
    a = shared(_ctx(None), KEY, compute)
    b = shared(RunContext(seed=7), KEY, compute)  # a context with no artifacts at all
    assert compute.calls == 2 and not _same(a, b)
    assert list(tmp_path.iterdir()) == []


def test_a_leftover_tmp_file_is_never_read(tmp_path: Path):
    """A writer killed before its rename leaves ``<key>.pt.<pid>.tmp``, complete or not:
    it is not the artifact."""
    stale = {"weights": torch.full((5,), -1.0), "curve": [9.0]}
    torch.save(stale, tmp_path / f"{key_digest(KEY)}.pt.99999.tmp")
    (tmp_path / f"{key_digest(KEY)}.pt.99998.tmp").write_bytes(b"\x80\x02half a pick")
    compute = Counted()
    value = shared(_ctx(tmp_path), KEY, compute)
    assert compute.calls == 1 and not _same(value, stale)
    assert _same(shared(_ctx(tmp_path), KEY, compute), value) and compute.calls == 1


def test_a_damaged_artifact_is_computed_again(tmp_path: Path):
    compute = Counted()
    shared(_ctx(tmp_path), KEY, compute)
    path = tmp_path / f"{key_digest(KEY)}.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # cut short
    again = shared(_ctx(tmp_path), KEY, compute)
    assert compute.calls == 2
    assert _same(shared(_ctx(tmp_path), KEY, compute), again) and compute.calls == 2


def _race(folder: str, count_file: str, out: str, barrier) -> None:
    """One of two processes asking for the same artifact at the same moment."""
    def slow() -> dict:
        time.sleep(1.5)
        with open(count_file, "a") as f:
            f.write(f"{os.getpid()}\n")
        return {"computed_by": os.getpid()}

    ctx = _ctx(Path(folder))
    barrier.wait()
    Path(out).write_text(json.dumps(shared(ctx, KEY, slow)))


def test_two_processes_racing_for_one_key_compute_it_once(tmp_path: Path):
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(2)
    count = tmp_path / "computed.txt"
    procs = [mp.Process(target=_race, args=(str(tmp_path / "artifacts"), str(count),
                                            str(tmp_path / f"out{i}.json"), barrier))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(count.read_text().split()) == 1
    outs = [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)]
    assert outs[0] == outs[1] == {"computed_by": int(count.read_text())}


SHARING_TOY = '''

from harness.artifacts import shared as _shared

_run = run


def run(params, ctx):
    def compute():
        with open(os.environ["TOY_ARTIFACT_COUNT"], "a") as f:
            f.write(params["arm"] + "\\n")
        return {"arm": params["arm"]}

    assert _shared(ctx, {"arm": params["arm"]}, compute) == {"arm": params["arm"]}
    return _run(params, ctx)
'''


def test_the_runner_gives_cells_a_folder_beside_the_store(toy: Path, store_path: Path,
                                                          tmp_path: Path, monkeypatch):
    """Every cell of an arm (tuning trials, main cells of every seed) shares one artifact,
    kept in ``<store>.artifacts/<suite>-<code digest>/``."""
    with open(toy / "task.py", "a") as f:
        f.write(SHARING_TOY)
    count = tmp_path / "computed.txt"
    monkeypatch.setenv("TOY_ARTIFACT_COUNT", str(count))
    suite = load_suite(str(toy))
    with Store(store_path) as store:
        result = Runner(store, torch.device("cpu"), None, progress=False).run(
            resolve(suite, "smoke"))
    assert {r.status for r in result.records} == {"done"} and len(result.records) == 9
    assert sorted(count.read_text().split()) == ["a", "b", "c"]
    folder = folder_for(store_path.resolve(), suite.name, suite.code.digest)
    assert folder.parent == store_path.resolve().with_name("store.sqlite.artifacts")
    assert sorted(p.name for p in folder.glob("*.pt")) == sorted(
        f"{key_digest({'arm': arm})}.pt" for arm in "abc")


# ------------------------------------------------------------ sae_tutorial's L1 cells

SAE = load_suite("sae_tutorial")


def _l1_cell():
    plan = resolve(SAE, "smoke")
    return next(c for c in plan.main_cells()
                if c.params["method"] == "l1" and float(c.params["rho"]) > 0)


@pytest.fixture
def grids_trained(monkeypatch) -> list[dict]:
    """The keys of the calibration grids the task computes (not read) from now on."""
    calls: list[dict] = []
    real = SAE.task.__globals__["shared"]

    def counting(ctx, key, compute):
        def counted():
            calls.append(key)
            return compute()
        return real(ctx, key, counted)

    monkeypatch.setitem(SAE.task.__globals__, "shared", counting)
    return calls


def _run(cell, folder: Path | None) -> dict:
    record = execute_cell(SAE, cell, torch.device("cpu"), DATA, artifacts=folder)
    assert record.status == "done", record.error
    return record.metrics


def _artifacts(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.pt")}


@needs_mnist
def test_l1_cell_gives_identical_metrics_computed_read_or_uncached(tmp_path: Path,
                                                                   grids_trained):
    cell = _l1_cell()
    uncached = _run(cell, None)
    assert len(grids_trained) == 1
    computed = _run(cell, tmp_path)
    assert len(grids_trained) == 2 and len(_artifacts(tmp_path)) == 1
    files = _artifacts(tmp_path)
    read = _run(cell, tmp_path)
    assert len(grids_trained) == 2 and _artifacts(tmp_path) == files
    assert computed == read == uncached
    assert len(computed["calib_share"]) == int(cell.params["l1_grid_points"])


@needs_mnist
def test_l1_cell_at_another_rho_reads_the_first_cells_grid(tmp_path: Path, grids_trained):
    cell = _l1_cell()
    first = _run(cell, tmp_path)
    files = _artifacts(tmp_path)
    assert len(grids_trained) == 1 and len(files) == 1
    rho = next(r for r in SAE.spec.factors["rho"] if r > 0 and r != cell.params["rho"])
    other = make_cell(SAE, "main", {**cell.params, "rho": rho})
    assert other.id != cell.id and other.seed == cell.seed
    shared_grid = _run(other, tmp_path)
    assert len(grids_trained) == 1 and _artifacts(tmp_path) == files
    assert shared_grid["calib_share"] == first["calib_share"]
    assert shared_grid == _run(other, None)  # as if it had trained the grid itself
    assert len(grids_trained) == 2
