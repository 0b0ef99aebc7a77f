"""Drive a settle run (``sparsebench settle``): plan a round, store it, run its cells,
judge the new look, until the looks, the budget or the undecided verdicts run out.
The design and its statistics are in settle.py."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..judge.aggregate import Results
from ..judge.judged import Judged, judge_run
from ..run.runner import Runner
from ..spec.plan import Plan, make_cell
from ..stats.questions import INCONCLUSIVE
from . import design as settle
from .design import Design, Round


def later_looks(plan: Plan, records: list, added: list, design: Design) -> list[Judged]:
    """Every finished look of a settle run, each on all seeds so far at alpha / K."""
    finished = max((r.look for r in design.rounds if r.done), default=0)
    return [judge_run(plan, Results(plan, settle.look_records(records, added, design, k)),
                      design.per_look) for k in range(1, finished + 1)]


def looks_judged(plan: Plan, records: list, added: list, design: Design
                 ) -> tuple[Judged, list[Judged]]:
    """Look 0 (the tier's seeds at alpha) and every finished look (at alpha / K)."""
    return judge_run(plan, Results(plan, records)), later_looks(plan, records, added, design)


def undecided(base: Judged, later: list[Judged]) -> set[str]:
    """Ids inconclusive at look 0 and at every later look."""
    out = {v.id for v in base.verdicts() if v.verdict == INCONCLUSIVE}
    for judged in later:
        out &= {v.id for v in judged.verdicts() if v.verdict == INCONCLUSIVE}
    return out


def run(plan: Plan, runner: Runner, reader: Runner, design: Design, workers: int,
        say: Callable[[str], None] = print) -> Design:
    """Extend ``plan``'s stored run round by round (``runner`` trains, ``reader`` only
    reads the store); the design is written to the store before and after each round."""
    store = runner.store
    while True:
        pending = next((r for r in design.rounds if not r.done), None)
        if pending is None:
            pending = _plan_round(plan, reader, design, workers, say)
            if pending is None:
                return design
            design.rounds.append(pending)
            settle.write(store, plan, design)
        cells = _cells(plan, reader, pending)
        say(f"look {pending.look} of {design.looks}: {len(cells)} cells for "
            f"{len(pending.targets)} verdicts ({', '.join(pending.targets)}), about "
            f"{pending.estimate_s / 60:.1f} min")
        ran = _run_within(plan, runner, pending, cells, design, workers, say)
        if ran < len(cells):  # out of budget: the look takes the seeds that ran
            pending.cells = [c.id for c in cells if runner.store.get(c.id) is not None]
        pending.done = True
        settle.write(store, plan, design)


def _run_within(plan: Plan, runner: Runner, rnd: Round, cells: list, design: Design,
                workers: int, say: Callable[[str], None]) -> int:
    """Run a round's cells a chunk at a time (a task's batches stay whole), starting none
    once the budget's wall time is spent: the stored cell times that planned the round
    may come from a faster machine. Returns how many cells ran."""
    by_config: dict[str, list] = {}
    for cell in cells:
        key = settle.config_label({k: v for k, v in cell.params.items() if k != "seed"})
        by_config.setdefault(key, []).append(cell)
    # a configuration's seeds in chunks of one batch (a task that trains seeds as one
    # batched model) or one cell per worker: the budget is checked between chunks
    size = runner.batch_size if plan.suite.task_batch is not None else max(workers, 1)
    chunks = [group[i:i + size] for group in by_config.values()
              for i in range(0, len(group), size)]
    spent_before = sum(r.wall_s for r in design.rounds if r is not rnd)
    ran = 0
    for group in chunks:
        if spent_before + rnd.wall_s >= design.budget_s and ran:
            say(f"look {rnd.look}: the {design.budget_s / 60:.0f} min budget is spent; "
                f"{len(cells) - ran} planned cells are not run (the look judges the seeds "
                "that ran)")
            break
        start = time.monotonic()
        runner.obtain(plan.suite, group, f"{plan.suite.name} settle look {rnd.look}")
        rnd.wall_s += time.monotonic() - start
        ran += len(group)
        settle.write(runner.store, plan, design)
    return ran


def _plan_round(plan: Plan, reader: Runner, design: Design, workers: int,
                say: Callable[[str], None]) -> Round | None:
    look = len(design.rounds) + 1
    if look > design.looks:
        say(f"all {design.looks} looks taken")
        return None
    stored = reader.run(plan)
    base, later = looks_judged(plan, stored.records, stored.settle_records, design)
    current = later[-1] if later else base
    open_ids = undecided(base, later)
    results = current.judge.results
    seconds = settle.cell_seconds(results)
    found = settle.candidates([v for v in current.verdicts() if v.id in open_ids], design,
                              results, seconds)
    left = design.budget_s - sum(r.wall_s for r in design.rounds)
    chosen, wanted = settle.choose(found, results, seconds, left, workers)
    if not chosen:
        why = ("no inconclusive verdict that more seeds could decide" if not found else
               f"the cheapest ({found[0].verdict}: {found[0].cost_s / workers / 60:.1f} min) "
               f"does not fit the {max(left, 0) / 60:.1f} min left of the budget")
        say(f"look {look}: nothing to add: {why}")
        return None
    seeds = {}
    for label, (config, n) in wanted.items():
        add = settle.next_seeds(settle.seeds_of(results, config), plan.seeds, n)
        if add:
            seeds[label] = add
    estimate = sum(len(s) * seconds(wanted[label][0]) for label, s in seeds.items()) / \
        max(workers, 1)
    rnd = Round(look, [t.verdict for t in chosen], [], seeds, round(estimate, 1))
    rnd.cells = [c.id for c in _cells(plan, reader, rnd, wanted)]
    return rnd


def _cells(plan: Plan, reader: Runner, rnd: Round, wanted: dict | None = None) -> list:
    """The cells of a round: an existing record of each configuration, its seed replaced
    (so tuned values and every parameter carry over), in the settle stage."""
    stored = reader.run(plan)
    results = Results(plan, stored.records)
    configs = {settle.config_label(c): c for c in results.configs}
    if wanted:
        configs.update({label: c for label, (c, _) in wanted.items()})
    out = []
    for label, seeds in rnd.seeds.items():
        template = next(r for r in results.records_of(configs[label]) if r.stage == "main")
        for seed in seeds:
            out.append(make_cell(plan.suite, settle.STAGE, {**template.params, "seed": seed}))
    return out
