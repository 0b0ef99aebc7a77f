"""`regress`: re-run a tier in a fresh store and compare every number with
`suites/<suite>/expected/<tier>.json` (exactly on the reference's machine class, by
distribution elsewhere); `--update` writes it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SparsebenchError

if TYPE_CHECKING:  # for type hints only
    from ..spec.plan import Plan
from .common import CELLS_FAILED, _fresh_store, _runner, _suites, _update_command
from .run import _retry_hint, _summarise_run


def cmd_regress(args: argparse.Namespace) -> int:
    from ..refs import reference
    from ..refs import regress as regress_mod
    from ..run.runner import store_lock
    from ..run.store import Store
    from ..spec.plan import resolve

    suites = _suites(args)
    plans = [resolve(s, args.tier) for s in suites]
    paths = [plan.suite.folder / "expected" / f"{plan.tier}.json" for plan in plans]
    missing = [(plan, path) for plan, path in zip(plans, paths, strict=True)
               if not path.is_file()]
    if missing and not args.update:  # before anything trains
        raise SparsebenchError("; ".join(
            f"{path}: no stored numbers for tier {plan.tier}; write them with: "
            f"{_update_command(plan)}" for plan, path in missing))
    if not args.update:  # a broken file, too, is said before anything trains
        for plan, path in zip(plans, paths, strict=True):
            _stored_numbers(plan, path)
    moved = failed = 0
    with _fresh_store(args), store_lock(args.store), Store(args.store) as store:
        runner = _runner(args, store)
        try:
            for plan, path in zip(plans, paths, strict=True):
                start = time.perf_counter()
                result = runner.run(plan)
                failed += _summarise_run(args, plan, result, time.perf_counter() - start)
                if args.update:  # with every record and where the run came from
                    _drop_if_broken(path, plan)
                    made = reference.make(result, _update_command(plan))
                    regress_mod.write(made, path)
                    wall = reference.duration(made["provenance"]["wall_s"])
                    print(f"{plan.suite.name}: wrote {path} ({len(made['records'])} records, "
                          f"{wall} of wall time)")
                    continue
                moved += _regress_one(args, runner, plan, result, path)
        finally:
            runner.executor.close()
    _retry_hint(args, failed)
    return 1 if moved else CELLS_FAILED if failed else 0


def _regress_one(args: argparse.Namespace, runner, plan: Plan, result, path: Path) -> int:
    """Compare one suite's fresh run with its stored numbers and print the outcome: 1 when
    numbers moved, else 0. Across machine classes a tuning group that picked another
    value has its main cells rerun with the stored pick (a noisy argmax is not a
    regression; the configuration it feeds is what a user relies on)."""
    from ..refs import reference
    from ..refs import regress as regress_mod

    stored = _stored_numbers(plan, path)
    spec = plan.suite.spec.metrics
    floors = {k: m.tolerance for k, m in spec.items()}
    deterministic = {k for k, m in spec.items() if m.deterministic}
    curves = {k for k, m in spec.items() if m.kind == "curve"}
    snap = regress_mod.snapshot(result, _update_command(plan))
    how, diffs = regress_mod.compare(stored, snap, floors, deterministic, curves)
    name = plan.suite.name
    changes = regress_mod.tuned_changes(stored, snap) if not how.exact else {}
    if changes:
        picks = "; ".join(f"[{g}] stored {a!r}, here {b!r}" for g, (a, b) in changes.items())
        print(f"{name}: tuning picked otherwise on this machine class ({picks}); the main "
              "cells are rerun with the stored picks")
        start = time.perf_counter()
        rerun = runner.run(plan, pinned=stored["tuned"])
        _summarise_run(args, plan, rerun, time.perf_counter() - start)
        result = rerun
        snap = regress_mod.snapshot(result, _update_command(plan))
        how, diffs = regress_mod.compare(stored, snap, floors, deterministic, curves)
    if args.save_run is not None:
        saved = args.save_run / f"{plan.suite.name}-{plan.tier}.json"
        regress_mod.write(reference.make(result, _update_command(plan)), saved)
        print(f"{name}: this run's numbers written to {saved}")
    print(f"{name}: {how.line()}")
    if not how.exact:
        same, total = regress_mod.identical(stored, snap)
        print(f"{name}: {same} of {total} numbers bit-identical; the rest judged by "
              f"distribution (family-wise false-alarm rate {regress_mod.drift.ALPHA:g})")
    if diffs:
        print(f"{name}: {len(diffs)} numbers moved ({how.mode} comparison against {path}):\n"
              f"{regress_mod.diff_table(diffs)}")
        note = regress_mod.code_note(stored, snap)
        if note:
            print(f"{name}: {note}; if the change was meant to move them, store the new "
                  f"numbers with: {_update_command(plan)}")
        return 1
    n = sum(len(c["metrics"]) for c in snap["cells"].values())
    print(f"{name}: {len(snap['cells'])} cells, {n} metrics match {path} ({how.mode} "
          "comparison)")
    return 0


def _stored_numbers(plan: Plan, path: Path) -> dict:
    """expected/<tier>.json as regress compares it; a file that does not read is a
    one-line error naming the command that rewrites it (harness/refs/reference_file.py)."""
    from ..refs.reference_file import read_json

    return read_json(path, _update_command(plan), keys=("cells", "configs", "tuned"))


def _drop_if_broken(path: Path, plan: Plan) -> None:
    """``regress --update`` writes the file anew: one that does not read (truncated, not
    an object) has no provenance to carry over, so it goes, said on one line."""
    if not path.is_file():
        return
    try:
        _stored_numbers(plan, path)
    except SparsebenchError as err:
        print(f"{plan.suite.name}: replacing a file that does not read: {err}")
        path.unlink()
