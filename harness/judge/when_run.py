"""Claims not testable at a tier only for lack of a run, judged once a run has it.

A ``not_testable`` claim may carry ``when_run``: the claim it becomes once a sensitivity
sweep or the recipe search has run what it needs (a greater, equivalent, non_inferior,
value or threshold claim, claims.toml's ``[claim.when_run]``). Its arms name a
configuration by the tier's factors plus

* the values of swept parameters (``{ ffn = "relu", lambda_ratio = 1.5 }``): the cells
  of the ``[[sensitivity]]`` sweep of that parameter at that value;
* ``recipe = "closest"``: the recipe search's closest recipe, re-run with every seed;
* nothing more: the tier's own cells.

It is judged only at the suite's reference tier (its answer, not a wiring run), by the
same engine and in the claims' Holm family, and labelled with the run it came from.
Until such a run exists the claim stays not testable, and its reason names the command
that would run it.
"""

from __future__ import annotations

import functools
import json

import numpy as np

from ..recipe.search import Search, recipe_text
from ..run.store import CellRecord
from ..spec.plan import Plan
from .aggregate import Results, Selection, selection
from .verdict import JUDGED, Verdict

CLOSEST = "closest"  # the value of a where's ``recipe`` key


class OtherRuns(Results):
    """The tier's main cells, its sweeps' cells and the closest recipe's re-runs, each
    addressable by a where that names factors and the values that set them apart."""

    def __init__(self, plan: Plan, records: list[CellRecord],
                 swept: list[tuple[int, CellRecord]], search: Search | None,
                 recipe_records: list[CellRecord]):
        super().__init__(plan, records)
        sweeps = plan.suite.spec.sensitivity
        self.swept = [(sweeps[i].param, r) for i, r in swept if i < len(sweeps)]
        self.closest: tuple[dict, list[CellRecord]] | None = None
        if search is not None and search.best:
            best = min(search.best, key=lambda t: (t.distance is None, t.distance or 0.0))
            by_id = {r.id: r for r in recipe_records}
            self.closest = (best.values, [by_id[c] for c in best.cells if c in by_id])
        self._extra: dict[str, list[CellRecord]] = {}

    def source(self, where: dict) -> str | None:
        """What an arm's extra keys read: "the closest recipe (...)", "the sweep of p at
        v", or None for the tier's own cells."""
        extra = self._extra_keys(where)
        if not extra:
            return None
        if "recipe" in extra:
            return (f"the recipe search's closest recipe ({recipe_text(self.closest[0])})"
                    if self.closest else "the recipe search's closest recipe")
        return "the sensitivity sweep of " + ", ".join(f"{k} = {v!r}" for k, v in extra.items())

    def _extra_keys(self, where: dict) -> dict:
        factors = set(self.plan.factor_names)
        return {k: v for k, v in where.items() if k not in factors}

    def select(self, where: dict, metric: str, index: int | None, source: str) -> Selection:
        extra = self._extra_keys(where)
        if not extra:
            return super().select(where, metric, index, source)
        base = {k: v for k, v in where.items() if k not in extra}
        config = self.config_for(base, source)
        if config is None:
            return Selection(None, np.array([]))
        found = self._records_for(config, extra)
        named = {**config, **(self.closest[0] if "recipe" in extra and self.closest
                              else extra)}
        self._extra[json.dumps(named, sort_keys=True, default=str)] = found
        return selection(named, found, metric, index)

    def _records_for(self, config: dict, extra: dict) -> list[CellRecord]:
        def of_config(r: CellRecord) -> bool:
            return all(r.params.get(k) == v for k, v in config.items())

        if "recipe" in extra:
            if extra["recipe"] != CLOSEST or self.closest is None:
                return []
            return [r for r in self.closest[1] if of_config(r)]
        return [r for param, r in self.swept if param in extra and of_config(r)
                and all(r.params.get(k) == v for k, v in extra.items())]

    def _records(self, config: dict) -> list[CellRecord]:
        key = json.dumps(config, sort_keys=True, default=str)
        return self._extra[key] if key in self._extra else super()._records(config)


def judge_when_run(plan: Plan, claims: list[Verdict], others: OtherRuns,
                   alpha: float | None) -> None:
    """Replace, in ``claims`` (claims.toml order), each not-testable verdict whose claim
    carries ``when_run`` by its judgement on ``others`` where the run exists; else say in
    its reason which run would test it."""
    from .engine import Judge

    suite = plan.suite
    if plan.tier != suite.spec.reference:
        return
    judge = Judge(suite.claims, others, str(suite.folder / "claims.toml"), alpha)
    for i, claim in enumerate(suite.claims.claim):
        inner = getattr(claim, "when_run", None)
        if inner is None:
            continue
        v = judge._reading(functools.partial(judge._claim, i, inner))
        arms = [w for w in (getattr(inner, "a", None), getattr(inner, "b", None)) if w]
        sources = [s for s in (others.source(w) for w in arms) if s]
        if v.verdict in JUDGED:
            v.reason = (f"Judged from {' and '.join(sources)}: not testable on the tier's "
                        f"own cells ({claims[i].reason.rstrip('.')}). {v.reason}")
            v.evidence["from_runs"] = ("the recipe search" if any("recipe" in w for w in arms)
                                       else "a sensitivity sweep")
            claims[i] = v
        else:
            claims[i].reason += (f" It becomes testable once {' and '.join(sources)} has "
                                 "run (sparsebench run --sensitivity, or sparsebench recipe, "
                                 f"at tier {plan.tier}).")
