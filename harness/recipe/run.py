"""Drive a recipe search (``sparsebench recipe``): a seeded Optuna study over the open
choices, one seed per trial, trials stored as cells (stage "recipe") so that a search
that dies resumes by asking the same recipes again and reading their cells back; then
the closest recipes re-run with every seed of the tier. The statistics are in recipe.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import optuna

from ..judge.aggregate import Results
from ..judge.engine import Judge
from ..run.runner import Runner
from ..run.store import Store
from ..spec.plan import Cell, Plan, make_cell
from . import search as recipe
from .search import Search, Trial

optuna.logging.set_verbosity(optuna.logging.WARNING)


def templates(plan: Plan, records: list) -> list:
    """One stored main record per searched configuration (the tier's first seed): its
    parameters, tuned values included, are what a recipe changes."""
    spec = plan.suite.spec.recipe
    out = []
    for config in plan.main_configs():
        if any(config.get(k) != v for k, v in spec.where.items()):
            continue
        found = [r for r in records if r.stage == "main"
                 and all(r.params.get(k) == v for k, v in config.items())]
        if found:
            out.append(min(found, key=lambda r: r.params["seed"]))
    return out


def recipe_cells(plan: Plan, bases: list, values: dict, seeds: list[int]) -> list[Cell]:
    return [make_cell(plan.suite, recipe.STAGE, {**r.params, **values, "seed": seed})
            for r in bases for seed in seeds]


def run(plan: Plan, runner: Runner, reader: Runner, command: str, budget_s: float,
        say: Callable[[str], None] = print) -> Search:
    spec = plan.suite.spec.recipe
    store = runner.store
    stored = reader.run(plan)
    reference = Results(plan, stored.records)
    judge = Judge(plan.suite.claims, reference, str(plan.suite.folder / "claims.toml"))
    numbers = recipe.fit_numbers(judge, spec.fit)
    bases = templates(plan, stored.records)
    if not numbers or not bases:
        raise ValueError("the recipe search needs the fit tables' reported numbers and the "
                         "tier's stored cells")
    search = Search(command)
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=spec.seed))
    dists = recipe.space(spec)
    start = time.monotonic()
    while len(search.trials) < spec.trials:
        if search.trials and time.monotonic() - start > budget_s:
            say(f"the {budget_s / 60:.0f} min budget is spent after {len(search.trials)} "
                "trials")
            break
        asked = [study.ask(dists) for _ in range(min(spec.parallel,
                                                     spec.trials - len(search.trials)))]
        cells = {t.number: recipe_cells(plan, bases, t.params, plan.seeds[:1]) for t in asked}
        runner.obtain(plan.suite, [c for cs in cells.values() for c in cs],
                      f"{plan.suite.name} recipe trials {asked[0].number}-{asked[-1].number}")
        for t in asked:
            d = _distance(store, plan, cells[t.number], numbers, reference)
            if math.isfinite(d):
                study.tell(t, d)
            else:
                study.tell(t, state=optuna.trial.TrialState.FAIL)
            search.trials.append(Trial(t.number, dict(t.params), [c.id for c in
                                                                  cells[t.number]], d))
        best = min(search.trials, key=lambda t: t.distance)
        say(f"{len(search.trials)} trials; closest so far: {recipe.recipe_text(best.values)} "
            f"(RMS z {best.distance:.3g})")
        store.set_meta(recipe.meta_key(plan.suite.name, plan.tier), search.to_json())
    search.best = _best(plan, runner, store, search, spec.best, bases, numbers, reference, say)
    search.wall_s = round(time.monotonic() - start, 1)
    store.set_meta(recipe.meta_key(plan.suite.name, plan.tier), search.to_json())
    return search


def _distance(store: Store, plan: Plan, cells: list[Cell], numbers, reference: Results,
              runs: int | None = None) -> float:
    records = [r for r in store.records([c.id for c in cells]) if r.status == "done"]
    if len(records) < len(cells):
        return math.inf  # a failed cell: the recipe does not run
    z = recipe.z_scores(numbers, Results(plan, records), reference, runs)
    return recipe.distance(z)


def _best(plan: Plan, runner: Runner, store: Store, search: Search, k: int, bases: list,
          numbers, reference: Results, say) -> list[Trial]:
    """The ``k`` closest distinct recipes, re-run with every seed of the tier."""
    seen, chosen = set(), []
    for t in sorted((t for t in search.trials if math.isfinite(t.distance)),
                    key=lambda t: (t.distance, t.number)):
        key = recipe.recipe_text(t.values)
        if key not in seen:
            seen.add(key)
            chosen.append(t)
        if len(chosen) == k:
            break
    out = []
    for t in chosen:
        cells = recipe_cells(plan, bases, t.values, plan.seeds)
        runner.obtain(plan.suite, cells, f"{plan.suite.name} recipe {t.number}, every seed")
        d = _distance(store, plan, cells, numbers, reference)
        out.append(Trial(t.number, t.values, [c.id for c in cells], d))
        say(f"recipe {t.number} ({recipe.recipe_text(t.values)}) with {len(plan.seeds)} "
            f"seeds: RMS z {d:.3g}")
    return out
