"""`forget`, `export` and `coverage`: remove cells from the store, write stored results
as CSV or Parquet, and list every number of a write-up with where the suite uses it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import SparsebenchError

if TYPE_CHECKING:  # for type hints only
    pass
from .common import DEFAULT_OUT, _plans, _require_store, _suites


def cmd_forget(args: argparse.Namespace) -> int:
    """Remove a suite's cells from the store: with --tier, the main cells and tuning trials
    of that tier (cut by --where and --seeds) found in the store, what `report` would read; without,
    every cell stored under the suite's name whose parameters match --where, stale ones
    from older code included."""
    from ..run.runner import read, store_lock
    from ..run.store import Store
    from ..spec.selection import stored_filter

    if not args.suite:
        raise SparsebenchError("forget: name the suite with --suite (forget never removes "
                               "every suite at once)")
    if getattr(args, "seeds", None) and not args.tier:
        raise SparsebenchError("forget: --seeds needs --tier (a seed is a cell of a tier's "
                               "plan; without --tier forget matches stored parameters)")
    suites = _suites(args)
    plans = _plans(args, suites) if args.tier else []
    wanted = [] if args.tier else [stored_filter(suite, args.where) for suite in suites]
    _require_store(args)
    with store_lock(args.store), Store(args.store) as store:
        chosen: dict[str, str] = {}  # cell id -> stage
        if args.tier:
            for plan in plans:
                chosen.update((r.id, r.stage) for r in read(store, plan).all_records)
        else:
            for suite, test in zip(suites, wanted, strict=True):
                chosen.update((cell_id, stage) for cell_id, stage, params
                              in store.suite_cells(suite.name) if test(params))
        trials = sum(stage == "tune" for stage in chosen.values())
        what = (f"{len(chosen)} cells ({len(chosen) - trials} main, {trials} tuning trials) of "
                f"{', '.join(s.name for s in suites)}"
                + (f" tier {args.tier}" if args.tier else " (every tier)"))
        if not args.yes:
            print(f"would remove {what} from {args.store}; add --yes to remove them")
            return 0
        removed = store.delete(chosen)
    print(f"removed {removed} cells ({len(chosen) - trials} main, {trials} tuning trials) "
          f"from {args.store}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """One row per stored cell and metric of each suite's tier (harness/refs/export.py)."""
    import pandas as pd

    from ..refs.export import frame, require_engine, write
    from ..run.runner import read
    from ..run.store import Store

    require_engine(args.format)  # a missing pyarrow fails before the store is read
    suites = _suites(args)
    plans = _plans(args, suites)
    _require_store(args)
    with Store(args.store, readonly=True) as store:
        tables = [frame(read(store, plan)) for plan in plans]
    if args.out is not None:
        outputs = [(args.out, pd.concat(tables, ignore_index=True))]
    else:
        outputs = [(DEFAULT_OUT / f"{plan.suite.name}-{plan.tier}.{args.format}", t)
                   for plan, t in zip(plans, tables, strict=True)]
    for path, table in outputs:
        write(table, path, args.format)
        print(f"wrote {path}: {len(table)} rows, {table['cell_id'].nunique()} cells")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    """Per suite: the numbers of its write-up and what uses each. Exit 1 when a number is
    uncovered, so that a test or a CI step can hold a suite at 100 %."""
    from tabulate import tabulate

    from ..spec.coverage import coverage, find_writeup, share_covered

    suites = _suites(args)
    if args.writeup and len(suites) != 1:
        raise SparsebenchError("--writeup goes with one --suite")
    uncovered = 0
    for suite in suites:
        path = find_writeup(suite, args.writeup)
        found = coverage(suite, path)
        rows = [[o.line, o.text, o.context, o.used_by or "UNCOVERED"] for o in found
                if args.all or not o.used_by]
        covered = sum(bool(o.used_by) for o in found)
        uncovered += len(found) - covered
        print(f"{suite.cli_name}: {path}: {covered} of {len(found)} numbers covered "
              f"({100 * share_covered(found):.1f} %)")
        if rows:
            print(tabulate(rows, headers=["line", "number", "context", "used by"],
                           disable_numparse=True))
    if uncovered:
        print("An uncovered number is one the suite leaves out: say why in the suite's "
              "coverage.toml ([[excuse]] with numbers or a pattern, and why; "
              "docs/writing-a-suite.md, \"coverage.toml\").")
    return 1 if uncovered else 0
