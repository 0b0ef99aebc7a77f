"""``sparsebench settle``: add seeds where a committed reference's verdicts are
inconclusive and more seeds could decide them, within a budget; with ``--update`` write
the extended reference. The design is in settle/design.py."""

from __future__ import annotations

import argparse

from ..errors import SparsebenchError


def add_parser(sub) -> None:
    p = sub.add_parser("settle", help="add seeds to the cells of inconclusive verdicts "
                                      "within a budget, judge them again (group-sequential)")
    p.add_argument("--suite", action="append", metavar="NAME_OR_PATH", required=True,
                   help="the suite (a name under suites/ or a path to a suite folder)")
    p.add_argument("--tier", help="the reference's tier (default: the suite's reference tier)")
    p.add_argument("--budget", default="30m",
                   help="wall time the added seeds may take in all, e.g. 30m, 2h "
                        "(default: %(default)s; estimated from the cells' stored times)")
    p.add_argument("--looks", type=int, default=3,
                   help="looks after the reference's own, fixed at the first settle run of a "
                        "store: each is judged at alpha / LOOKS (default: %(default)s)")
    p.add_argument("--max-seeds", type=int, default=30,
                   help="seeds per configuration at most (default: %(default)s)")
    p.add_argument("--update", action="store_true",
                   help="write the extended reference to suites/<name>/expected/<tier>.json")


def cmd_settle(args: argparse.Namespace, runner_for, update_command) -> int:
    from ..refs import reference
    from ..refs import regress as regress_mod
    from ..run.runner import store_lock
    from ..run.store import Store
    from ..settle import design as settle
    from ..settle import run as settle_run
    from ..settle.design import Design
    from ..spec.plan import resolve
    from ..spec.suite import load_suites

    if len(args.suite) != 1:
        raise SparsebenchError("settle: give one --suite")
    if args.looks < 1 or args.max_seeds < 2:
        raise SparsebenchError("settle: --looks must be at least 1 and --max-seeds at least 2")
    try:
        budget = settle.budget_seconds(args.budget)
    except ValueError as err:
        raise SparsebenchError(str(err)) from None
    suite = load_suites(args.suite)[0]
    tier = args.tier or suite.spec.reference or suite.spec.default_tier
    plan = resolve(suite, tier)
    command = update_command(plan)
    ref = reference.extendable(suite, tier, command, "settle")
    workers = args.workers if args.executor != "local" else 1
    with store_lock(args.store), Store(args.store) as store:
        reader = runner_for(args, store, execute=False)
        if len(reader.run(plan).records) < plan.cell_count()[0]:
            reference.fill(store, ref, suite)  # the reference's cells, to extend
        design = settle.read(store, plan)
        if design is None:
            design = Design(args.looks, suite.claims.source.alpha, budget, args.max_seeds,
                            _command_line(args, suite.cli_name, tier))
        else:
            if design.looks != args.looks:
                print(f"{suite.name}: this store's settle run was designed with "
                      f"{design.looks} looks; it keeps them (--looks {args.looks} ignored)")
            design.budget_s, design.max_seeds = budget, args.max_seeds
        settle.write(store, plan, design)  # the looks are fixed before any seed is added
        runner = runner_for(args, store)
        try:
            design = settle_run.run(plan, runner, reader, design, workers,
                                    lambda line: print(f"{suite.name}: {line}", flush=True))
        finally:
            runner.executor.close()
        result = reader.run(plan)
        _report(suite.name, plan, result, design)
        if args.update:
            path = reference.path_for(suite, tier)
            made = reference.make(result, command)
            regress_mod.write(made, path)
            print(f"{suite.name}: wrote {path} ({len(made['records'])} records, "
                  f"{len(result.settle_records)} of them added by settle)")
    return 0


def _command_line(args: argparse.Namespace, name: str, tier: str) -> str:
    return (f"sparsebench settle --suite {name} --tier {tier} --budget {args.budget} "
            f"--looks {args.looks} --max-seeds {args.max_seeds}")


def _report(name: str, plan, result, design) -> None:
    """What each look decided, one line per verdict settle set out to decide."""
    from ..settle import design as settle
    from ..settle.run import looks_judged

    if not result.settle_records:
        print(f"{name}: no seeds added")
        return
    base, later = looks_judged(plan, result.records, result.settle_records, design)
    before = {v.id: v.verdict for v in base.verdicts()}
    settled = settle.merge(base, later, design)
    after = base.by_id()
    for vid in settled:
        v = after[vid]
        where = v.evidence.get("settled", {})
        print(f"{name}: {vid}: {before[vid]} -> {v.verdict} (look {where.get('look')} of "
              f"{design.looks})")
    moved = sum(after[vid].verdict != before[vid] for vid in settled)
    wall = sum(r.wall_s for r in design.rounds)
    print(f"{name}: {len(result.settle_records)} cells added in {wall / 60:.1f} min; "
          f"{moved} of {len(settled)} targeted verdicts decided")
