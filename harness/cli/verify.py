"""`verify`: re-run a sample of a committed reference's cells and compare their numbers
(exactly on the machine class that made it, by distribution elsewhere).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from ..errors import SparsebenchError

if TYPE_CHECKING:  # for type hints only
    pass
from .common import (
    CELLS_FAILED,
    _devices_here,
    _fresh_store,
    _load_reference,
    _runner,
    _suites,
    _update_command,
)
from .run import _retry_hint, _summarise_run


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-run a random sample of a committed reference's cells (harness/refs/verify.py)
    with their stored parameters, tuned values included, and compare every number."""
    from ..refs import reference, verify
    from ..run import machine
    from ..run.runner import RunResult, store_lock
    from ..run.store import Store
    from ..spec.plan import make_cell, resolve

    if len(args.suite) != 1:
        raise SparsebenchError("verify: name one suite with --suite")
    if args.sample < 1:
        raise SparsebenchError(f"--sample {args.sample}: re-run at least 1 cell")
    suite = _suites(args)[0]
    tier = args.tier or suite.spec.reference
    if tier is None:
        raise SparsebenchError(f"{suite.folder / 'suite.toml'}: reference: the suite names no "
                               "reference tier; give one with --tier")
    plan = resolve(suite, tier)
    path, update = reference.path_for(suite, tier), _update_command(plan)
    ref = _load_reference(suite, tier)
    if ref is None:
        what = "holds no records (a regress snapshot)" if path.is_file() else "does not exist"
        raise SparsebenchError(f"{path}: no reference of tier {tier} to verify: the file "
                               f"{what}; write it with: {update}")
    why = reference.stale(ref, suite)
    if why:
        raise SparsebenchError(f"{path}: code: {why}, with: {update}")
    how, here = _verify_mode(args, suite, ref["records"])
    factors = verify.config_keys(plan)
    # exactly: only the cells made on this machine class; else every cell, by distribution
    pool = [r for r in ref["records"] if machine.comparison(r["fingerprint"], here).exact] \
        if how.exact else ref["records"]
    sample = verify.choose(pool, args.sample, args.seed, args.max_cell_seconds,
                           None if how.exact else factors)
    if how.exact and not sample.chosen and len(pool) < len(ref["records"]):
        # this class made only cells above the cap (a settle run or a recipe search ran
        # here): compare the reference's other cells by distribution instead
        how = _by_distribution(ref["records"], here)
        pool = ref["records"]
        sample = verify.choose(pool, args.sample, args.seed, args.max_cell_seconds, factors)
    if not sample.chosen:
        if not sample.finished:
            raise SparsebenchError(f"{path}: records: no main cell of the reference finished")
        fastest = min(r["wall_s"] or 0 for r in verify.eligible(ref["records"]))
        what = ("finished cell of {} took that little (the fastest took" if how.exact
                else "configuration of {} took that little in every seed (the fastest cell "
                "took")
        raise SparsebenchError(f"--max-cell-seconds {args.max_cell_seconds:g}: no "
                               f"{what.format(path)} {fastest:.3g} s)")
    configs = None if how.exact else len(
        {verify.label(r["params"], factors) for r in sample.chosen})
    chosen = verify.describe(sample, args.sample, args.seed, args.max_cell_seconds, configs)
    print(f"{suite.name}: {chosen}")
    keys = [*factors, "seed"]
    cells = [make_cell(suite, r["stage"], r["params"]) for r in sample.chosen]
    for cell, stored in zip(cells, sample.chosen, strict=True):
        if cell.id != stored["id"]:
            raise SparsebenchError(
                f"{path}: records: cell {stored['id']} ({verify.label(stored['params'], keys)}) "
                f"has id {cell.id} today: what makes a cell's id (TASK_VERSION, the suite's "
                f"name, the id's recipe) changed since the reference was made; regenerate "
                f"it with: {update}")
    with _fresh_store(args), store_lock(args.store), Store(args.store) as store:
        runner = _runner(args, store)
        start = time.perf_counter()
        try:
            new = verify.rerun(runner, plan, cells)
        finally:
            runner.executor.close()
        result = RunResult(plan, [], new, runner.executed, runner.executed_failed)
        failed = _summarise_run(args, plan, result, time.perf_counter() - start)
    floors = verify.compared_metrics(suite)
    deterministic = {k for k, m in suite.spec.metrics.items() if m.deterministic}
    exact = [machine.comparison(s["fingerprint"], r.fingerprint).exact
             for s, r in zip(sample.chosen, new, strict=True)]
    if how.exact and not all(exact):
        ran = next(r.fingerprint for r, same in zip(new, exact, strict=True) if not same)
        raise SparsebenchError(
            f"the re-run cells ran on {machine.where(ran)}, another machine class than this "
            "process, which chose single cells for an exact "
            "comparison; run verify with --executor local, or with workers of this "
            "machine's class")
    print(f"{suite.name}: {how.line()}")
    rows = []
    if all(exact):
        for stored, record in zip(sample.chosen, new, strict=True):
            rows += verify.compare_cell(stored, record, floors,
                                        verify.label(stored["params"], keys))
    else:
        curves = {k for k, m in suite.spec.metrics.items() if m.kind == "curve"}
        rows = verify.compare_configs(sample.chosen, new, floors, deterministic, keys,
                                      factors, curves)
    modes = ["exact" if all(exact) else "statistical"] * len(new)
    print(verify.table(rows))
    print(f"{suite.name}: {verify.summary(rows, len(cells), modes)} against {path}")
    _retry_hint(args, failed)
    moved = any(r.verdict == verify.MOVED for r in rows)
    return 1 if moved else CELLS_FAILED if failed else 0


def _by_distribution(records: list[dict], here: dict):
    """The comparison with the reference's main cells made on another machine class."""
    from ..run import machine

    other = next((r["fingerprint"] for r in records if r["stage"] == "main"
                  and not machine.comparison(r["fingerprint"], here).exact), None)
    return machine.comparison(other or {}, here)


def _verify_mode(args: argparse.Namespace, suite, records: list[dict]):
    """How a re-run here would compare with the reference's records (harness/run/machine.py),
    known before anything runs: it decides whether cells or whole configurations are
    sampled."""
    import torch

    from ..determinism import fingerprint, resolve_device
    from ..run import machine
    from ..run.execute import pinned_threads

    device = resolve_device(getattr(args, "device", "cpu"), _devices_here(args))
    if args.threads:
        torch.set_num_threads(args.threads)
    here = {**fingerprint(device), "machine_class": machine.machine_class(device),
            "cpu": machine.cpu_model()}
    here["threads"] = pinned_threads(suite, device) or here["threads"]
    # a reference extended later (settle, recipe) may hold cells of several machine
    # classes: an exact comparison is possible when any was made on this one
    same = next((r["fingerprint"] for r in records
                 if machine.comparison(r["fingerprint"], here).exact), None)
    stored = same or next((r["fingerprint"] for r in records if r["stage"] == "main"), {})
    return machine.comparison(stored, here), here
