"""The report's recipe-search section: the space, the search's trajectory, the closest
recipes judged on what they were fitted on and on what they were not, and one sentence
of conclusion (recipe.py has the design)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import optuna

from ..judge.aggregate import Results
from ..judge.judged import Judged, judge_run
from ..refs.reference import duration
from ..spec.plan import Plan
from ..stats.questions import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from . import search as recipe
from .search import Search


@dataclass
class Closest:
    number: int
    recipe: str
    rms: float  # over the fit tables, every seed
    fit: str  # verdict counts, "3 supported, 0 contradicted, 0 inconclusive"
    check: str
    claims: str
    judged: Judged = field(repr=False, default=None)


@dataclass
class RecipeSection:
    space: list[list[str]]  # choice, candidates, the suite's value, why
    fit: list[str]
    check: list[str]
    trials: int
    wall: str
    trajectory: list[tuple[int, float]]  # (trial, distance) of the finished trials
    importances: dict[str, float]
    closest: list[Closest]
    conclusion: str

    @property
    def rows(self) -> list[list[str]]:
        return [[str(c.number), c.recipe, _z(c.rms), c.fit, c.check, c.claims]
                for c in self.closest]


def _z(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3g}"


def _counts(verdicts) -> str:
    c = Counter(v.verdict for v in verdicts)
    return ", ".join(f"{c[k]} {k}" for k in (SUPPORTED, CONTRADICTED, INCONCLUSIVE))


def build(plan: Plan, search: Search | None, records: list) -> RecipeSection | None:
    spec = plan.suite.spec.recipe
    if spec is None or search is None or not search.trials:
        return None
    by_id = {r.id: r for r in records}
    closest = []
    for t in search.best:
        got = [by_id[c] for c in t.cells if c in by_id]
        judged = judge_run(plan, Results(plan, got))
        tables = {tr.spec.id: [v for c in tr.cells.values() for v in c.verdicts]
                  for tr in judged.tables}
        closest.append(Closest(
            t.number, recipe.recipe_text(t.values), t.distance,
            _counts(v for tid in spec.fit for v in tables.get(tid, []) if "/chance" not in v.id),
            _counts(v for tid in spec.check for v in tables.get(tid, [])
                    if "/chance" not in v.id),
            _counts(judged.claims), judged))
    done = [(t.number, t.distance) for t in search.trials
            if t.distance is not None and math.isfinite(t.distance)]
    space_rows = [[name, _candidates(c), repr(plan.params.get(name)), c.why]
                  for name, c in spec.space.items()]
    return RecipeSection(space_rows, spec.fit, spec.check, len(search.trials),
                         training_time(search, by_id), done, importances(plan, search), closest,
                         conclusion(spec, len(search.trials), closest))


def training_time(search: Search, by_id: dict) -> str:
    """What the search cost: its cells' own times summed from the store, whichever
    invocation trained them (a resumed search re-reads the cells an earlier one trained,
    so its own wall time says little), beside the last invocation's wall time."""
    found = [by_id[c] for c in sorted(search.cell_ids()) if c in by_id]
    cells_s = sum(r.wall_s or 0.0 for r in found)
    return (f"{duration(cells_s)} of training over {len(found)} cells, the last invocation "
            f"{duration(search.wall_s)} of wall time")


def _candidates(c) -> str:
    if c.values is not None:
        return ", ".join(map(repr, c.values))
    return f"{c.low:g} to {c.high:g}{' (log)' if c.log else ''}{' (integer)' if c.integer else ''}"


def importances(plan: Plan, search: Search) -> dict[str, float]:
    """Each choice's share of the distance's variance over the finished trials (Optuna's
    fANOVA), or {} with fewer than 3 finished trials or one choice."""
    spec = plan.suite.spec.recipe
    dists = recipe.space(spec)
    done = [t for t in search.trials if t.distance is not None and math.isfinite(t.distance)]
    if len(done) < 3 or len(dists) < 2:
        return {name: 1.0 for name in dists} if done and len(dists) == 1 else {}
    study = optuna.create_study(direction="minimize")
    for t in done:
        study.add_trial(optuna.trial.create_trial(params=t.values, distributions=dists,
                                                  value=t.distance))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def conclusion(spec, tried: int, closest: list[Closest]) -> str:
    fit, check = ", ".join(spec.fit), ", ".join(spec.check)
    if not closest or not math.isfinite(closest[0].rms):
        return f"No recipe among {tried} tried ran to the end."
    best = min(closest, key=lambda c: c.rms)
    held = (f"held out: {check} ({best.check}); the claims ({best.claims})" if spec.check
            else f"held out: the claims ({best.claims})")
    if best.rms <= recipe.MATCH:
        return (f"Consistent with recipe {best.number} ({best.recipe}), fitted on {fit} "
                f"(RMS z {best.rms:.3g} with every seed, at most {recipe.MATCH:g} counts as "
                f"reaching it) and checked on what the search never saw: {held}. "
                f"{tried} recipes tried.")
    return (f"No recipe among {tried} tried within the space comes within RMS z "
            f"{recipe.MATCH:g} of {fit}: the closest, recipe {best.number} ({best.recipe}), "
            f"is at {best.rms:.3g} ({held}).")


def annotate(section: RecipeSection | None, tables: list) -> None:
    """Each table verdict gains the closest recipe's verdict on the same number."""
    if section is None or not section.closest:
        return
    best = min(section.closest, key=lambda c: c.rms)
    if best.judged is None:
        return
    theirs = best.judged.by_id()
    for result in tables:
        for cell in result.cells.values():
            for v in cell.verdicts:
                other = theirs.get(v.id)
                if other is not None and other.verdict in (SUPPORTED, CONTRADICTED,
                                                           INCONCLUSIVE):
                    v.reason += (f" Closest recipe of the search ({best.recipe}): "
                                 f"{other.verdict}.")
