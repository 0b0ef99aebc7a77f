"""The ``sparsebench`` command: list, run, report, reproduce, regress."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from . import regress as regress_mod
from .determinism import resolve_device
from .errors import SparsebenchError
from .executors import make_executor
from .plan import resolve
from .render import terminal_summary, write_index, write_suite_report
from .report import build
from .runner import Runner, store_lock
from .store import Store
from .suite import available_suites, load_suite

DEFAULT_STORE = Path(".sparsebench") / "store.sqlite"
DEFAULT_OUT = Path("reports") / "out"


def _common(p: argparse.ArgumentParser, many: bool = True) -> None:
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH",
                   help="a suite under suites/ or a path to a suite folder "
                        + ("(repeatable; default: every suite)" if many else ""))
    p.add_argument("--tier", help="smoke, quick or full (default: the suite's default tier)")
    p.add_argument("--store", type=Path,
                   default=Path(os.environ.get("SPARSEBENCH_STORE", DEFAULT_STORE)),
                   help="SQLite result store (default: $SPARSEBENCH_STORE or %(default)s)")


def _execution(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="data folder (default: $SPARSEBENCH_DATA)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (recorded with every cell; bits depend on it)")
    p.add_argument("--retry-failed", action="store_true", help="run failed cells again")
    p.add_argument("--batch", type=int, default=16, metavar="N",
                   help="train up to N cells as one batched model when the task allows it "
                        "(same numbers as one at a time; 1 turns batching off)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--executor", choices=["local", "dask", "submitit"], default="local",
                   help="where cells run (default: in this process)")
    p.add_argument("--address", help="dask: scheduler address, e.g. tcp://host:8786 "
                                     "(default: a LocalCluster on this machine)")
    p.add_argument("--workers", type=int, default=2, help="dask LocalCluster worker processes")
    p.add_argument("--cluster", choices=["slurm", "local", "debug"], default=None,
                   help="submitit: slurm (default when sbatch is found), local or debug")


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="report folder (default: %(default)s)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="sparsebench",
        description="Re-run research claims about sparsity, aggregate seeds, judge claims.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="suites, tiers and cell counts")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH")

    p = sub.add_parser("run", help="run suites (resuming from the store) and print a summary")
    _common(p)
    _execution(p)

    p = sub.add_parser("report", help="render reports from the store (no training)")
    _common(p)
    _out(p)

    p = sub.add_parser("reproduce", help="run every suite, then write reports/out/")
    _common(p)
    _execution(p)
    _out(p)

    p = sub.add_parser("regress", help="rerun a tier and compare with suites/*/expected/")
    _common(p)
    _execution(p)
    p.add_argument("--update", action="store_true",
                   help="write the new numbers to suites/<name>/expected/<tier>.json")
    p.set_defaults(tier="quick")
    return top


def _suites(args) -> list:
    names = args.suite or available_suites()
    if not names:
        raise SparsebenchError("no suites found under suites/ and none given with --suite")
    return [load_suite(n) for n in names]


def _command_line(suite, tier: str) -> str:
    return f"sparsebench reproduce --suite {suite.name} --tier {tier}"


def _runner(args, store: Store, execute: bool = True) -> Runner:
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    executor = None
    if execute and getattr(args, "executor", "local") != "local":
        executor = make_executor(args.executor, args.address, args.workers,
                                 args.store.parent / "submitit", args.cluster)
    data_dir = getattr(args, "data_dir", None) or (
        Path(os.environ["SPARSEBENCH_DATA"]) if os.environ.get("SPARSEBENCH_DATA") else None)
    return Runner(store, resolve_device(getattr(args, "device", "cpu")), data_dir,
                  execute=execute,
                  progress=execute and not getattr(args, "no_progress", False),
                  retry_failed=getattr(args, "retry_failed", False),
                  batch_size=getattr(args, "batch", 1), executor=executor)


def cmd_list(args) -> int:
    from tabulate import tabulate

    rows = []
    for suite in _suites(args):
        for tier in suite.tiers:
            main, trials = resolve(suite, tier).cell_count()
            default = " (default)" if tier == suite.spec.default_tier else ""
            rows.append([suite.name, tier + default, main, trials,
                         suite.spec.tiers[tier].description])
    print(tabulate(rows, headers=["suite", "tier", "cells", "tuning trials", "what"]))
    return 0


def _run_all(args, render: bool) -> int:
    suites = _suites(args)
    plans = [resolve(s, args.tier) for s in suites]  # every tier checked before training
    models = []
    with store_lock(args.store), Store(args.store) as store:
        runner = _runner(args, store, execute=args.command != "report")
        try:
            models = _run_plans(args, runner, plans, render)
        finally:
            runner.executor.close()
    if render:
        print(f"wrote {write_index(models, args.out)}")
    return 0


def _run_plans(args, runner: Runner, plans: list, render: bool) -> list:
    models = []
    for plan in plans:
        start = time.perf_counter()
        result = runner.run(plan)
        model = build(result, _command_line(plan.suite, plan.tier))
        models.append(model)
        print(terminal_summary(model))
        if runner.execute:
            print(f"\n{plan.suite.name}: {result.executed} cells and trials trained, "
                  f"{result.read_back} read from {args.store}, "
                  f"{time.perf_counter() - start:.1f} s")
        if render:
            paths = write_suite_report(model, args.out)
            print(f"wrote {paths['md']} and {paths['html']}")
    return models


def cmd_regress(args) -> int:
    failed = 0
    suites = _suites(args)
    plans = [resolve(s, args.tier) for s in suites]
    with store_lock(args.store), Store(args.store) as store:
        runner = _runner(args, store)
        results = [runner.run(plan) for plan in plans]
        runner.executor.close()
        for plan, result in zip(plans, results, strict=True):
            command = f"sparsebench regress --update --suite {plan.suite.name} --tier {plan.tier}"
            snap = regress_mod.snapshot(result, command)
            path = plan.suite.folder / "expected" / f"{plan.tier}.json"
            if args.update:
                regress_mod.write(snap, path)
                print(f"{plan.suite.name}: wrote {path}")
                continue
            if not path.is_file():
                print(f"{plan.suite.name}: no stored numbers at {path}; create them with: "
                      f"{command}", file=sys.stderr)
                failed += 1
                continue
            stored = regress_mod.json.loads(path.read_text(encoding="utf-8"))
            floors = {k: m.tolerance for k, m in plan.suite.spec.metrics.items()}
            mode, diffs = regress_mod.compare(stored, snap, floors)
            if diffs:
                failed += 1
                print(f"{plan.suite.name}: {len(diffs)} numbers moved ({mode} comparison "
                      f"against {path}):\n{regress_mod.diff_table(diffs)}")
            else:
                n = sum(len(c["metrics"]) for c in snap["cells"].values())
                print(f"{plan.suite.name}: {len(snap['cells'])} cells, {n} metrics match "
                      f"{path} ({mode} comparison)")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "regress":
            return cmd_regress(args)
        return _run_all(args, render=args.command in ("reproduce", "report"))
    except SparsebenchError as err:
        print(f"sparsebench: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nsparsebench: interrupted; finished cells are kept in {args.store}; run the "
              "same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
