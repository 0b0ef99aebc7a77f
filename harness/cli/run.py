"""`list`, `run`, `report` and `reproduce`: run the plans (resuming from the store), print a
summary per suite, render the reports.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import TYPE_CHECKING

from ..errors import SparsebenchError

if TYPE_CHECKING:  # for type hints only
    from ..report.model import ReportModel
    from ..run.runner import Runner, RunResult
    from ..run.store import CellRecord
    from ..spec.plan import Plan
    from ..spec.suite import Suite
from .common import (
    CELLS_FAILED,
    _from_reference,
    _plans,
    _require_store_or_references,
    _runner,
    _suites,
)


def cmd_list(args: argparse.Namespace) -> int:
    """Every suite that loads, with its tiers. A suite that does not load is a row of its
    own and one error line on stderr; the others are listed all the same, and the exit
    code is then 2, so a script sees that something is wrong."""
    from tabulate import tabulate

    from ..spec.plan import resolve
    from ..spec.suite import available_suites, load_suite

    names = args.suite or available_suites()
    if not names:
        raise SparsebenchError("no suites found under suites/ and none given with --suite")
    rows, errors = [], []
    for name in names:
        try:
            suite = load_suite(name)
            tiers = [(tier, *resolve(suite, tier).cell_count()) for tier in suite.tiers]
        except SparsebenchError as err:
            rows.append([name, "-", "", "", "does not load: see the error below"])
            errors.append(f"sparsebench: error: {err}")
            continue
        for tier, main, trials in tiers:
            default = " (default)" if tier == suite.spec.default_tier else ""
            rows.append([suite.name, tier + default, main, trials,
                         suite.spec.tiers[tier].description])
    print(tabulate(rows, headers=["suite", "tier", "cells", "tuning trials", "what"]))
    sys.stdout.flush()  # the table first, then the errors, also when both go to a terminal
    for line in errors:
        print(line, file=sys.stderr)
    return 2 if errors else 0


def _reference_plans(args: argparse.Namespace, suites: list[Suite]) -> list[Plan]:
    """`reproduce` without --tier also renders each suite's reference tier: from the store
    when it holds it, else from the committed reference."""
    from ..spec.plan import resolve

    if args.command != "reproduce" or args.tier is not None or getattr(args, "where", None) \
            or getattr(args, "seeds", None) or getattr(args, "set_params", None) \
            or getattr(args, "config", None):
        return []
    from ..refs.reference import path_for

    plans = []
    for s in suites:
        if not s.spec.reference or s.spec.reference == s.spec.default_tier:
            continue
        if not path_for(s, s.spec.reference).is_file():
            print(f"{s.name}: no committed reference of tier {s.spec.reference} yet "
                  f"(write it with: sparsebench regress --update --suite {s.cli_name} "
                  f"--tier {s.spec.reference})")
            continue
        plans.append(resolve(s, s.spec.reference))
    return plans


def _run_all(args: argparse.Namespace, render: bool) -> int:
    from ..report.render import write_index
    from ..run.runner import store_lock
    from ..run.store import Store

    suites = _suites(args)
    plans = _plans(args, suites)  # every tier checked before training
    report_only = args.command == "report"
    if report_only and not args.store.is_file():
        _require_store_or_references(args, plans)
    models = []
    with store_lock(args.store, reader=report_only), \
            Store(args.store, readonly=report_only) as store:
        runner = _runner(args, store, execute=not report_only)
        try:
            models, failed = _run_plans(args, runner, plans, render)
        finally:
            runner.executor.close()
        references = _reference_plans(args, suites)
        if references:
            reader = _runner(args, store, execute=False)
            models += _run_plans(args, reader, references, render)[0]
    if render:
        print(f"wrote {write_index(models, args.out)}")
    _retry_hint(args, failed)
    return CELLS_FAILED if failed else 0


def _summarise_run(args: argparse.Namespace, plan: Plan, result: RunResult,
                   seconds: float) -> int:
    """Print what a run trained, read back and lost, one line per failed cell (its
    parameters and its error's first line); return how many failed."""
    failed = result.failed
    earlier = len(failed) - result.executed_failed
    print(f"\n{plan.suite.name}: {result.executed - result.executed_failed} cells and trials "
          f"trained, {result.read_back - earlier} read from {args.store}, {len(failed)} failed"
          + (f" ({earlier} of them read back)" if earlier else "") + f", {seconds:.1f} s")
    for record in failed:
        print(f"  failed: {_cell_label(plan, record)}: {_first_line(record.error)}")
    return len(failed)


def _cell_label(plan: Plan, record: CellRecord) -> str:
    keys = [*plan.factor_names, "seed"]
    if record.stage == "tune" and plan.tuning is not None:
        keys.append(plan.tuning.param)
    shown = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
             for k in keys if (v := record.params.get(k)) is not None]
    return " ".join([record.stage, *shown])


def _first_line(error: str | None) -> str:
    lines = (error or "").strip().splitlines()
    return lines[0] if lines else "no reason recorded"


def _retry_hint(args: argparse.Namespace, failed: int) -> None:
    if not failed:
        return
    if getattr(args, "temporary_store", False):
        print(f"{failed} cells or trials failed (reasons above)")
        return
    again = [a for a in args.argv if a != "--retry-failed"] + ["--retry-failed"]
    print(f"{failed} cells or trials failed (reasons above); once the cause is fixed, run "
          f"them again with: sparsebench {shlex.join(again)}")


def _run_plans(args: argparse.Namespace, runner: Runner, plans: list[Plan],
               render: bool) -> tuple[list[ReportModel], int]:
    from ..report.model import build
    from ..report.render import terminal_summary, write_suite_report
    from ..report.reproduce_line import command_for

    models, failed = [], 0
    for plan in plans:
        start = time.perf_counter()
        result = runner.run(plan)
        heading = ""
        if not runner.execute and len(result.records) < plan.cell_count()[0]:
            result, heading = _from_reference(plan, result)  # the store lacks cells
        model = build(result, command_for(result, runner))
        if heading:
            from ..refs.reference import verify_command

            model.reference = heading
            model.verify = verify_command(plan.suite.cli_name, plan.tier)
        models.append(model)
        paths = write_suite_report(model, args.out) if render else {}  # before any output
        print(terminal_summary(model))
        if runner.execute:
            failed += _summarise_run(args, plan, result, time.perf_counter() - start)
        if render:
            print(f"wrote {paths['md']} and {paths['html']}")
    return models, failed
