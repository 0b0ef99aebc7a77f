"""The recipe search: where the write-up's numbers could come from, among the choices it
leaves unstated (``[recipe]`` in suite.toml; driven by recipe_run.py).

A recipe is one value for each open choice. Its distance to the write-up is taken on the
``fit`` tables only: for each reported number, the gap between the recipe's one-seed
value and the reported mean in units of their combined uncertainty,

    z = (ours - reported) / sqrt(sd_seed^2 + se_reported^2),

where ``sd_seed`` is the spread of one seed of that configuration (the tier's own seeds'
SD) and ``se_reported`` the standard error of the reported mean (its ± over its runs, as
the verdicts read it; a number without a spread is taken as a mean of its runs with our
seeds' spread; never below the rounding of its last printed digit). The distance is the
root mean square of the z over the fit tables' numbers: about 1 when the recipe
reproduces them as well as a fresh run of the write-up's own would.

Found by search, a recipe proves little about the numbers it was fitted on: the closest
recipes are re-run with the tier's seeds and judged by the verdict engine on the
``check`` tables and the claims, which the search never saw. ``MATCH`` is the distance
below which a recipe counts as reaching the fitted numbers; it is fixed here, before any
search ran.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import optuna

from ..judge.aggregate import Results
from ..judge.engine import Judge
from ..spec.schemas import RecipeChoice, RecipeSpec, reported_str

STAGE = "recipe"  # the stage of the cells a recipe search adds
# A recipe "reaches" the fitted numbers when their RMS z is at most 2: on average within
# two combined SDs, what a fresh run of the write-up's own recipe would reach ~95 % of the
# time for one number (fixed before any search ran; docs/recipe-search.md)
MATCH = 2.0


def distribution(choice: RecipeChoice) -> optuna.distributions.BaseDistribution:
    if choice.values is not None:
        return optuna.distributions.CategoricalDistribution(choice.values)
    if choice.integer:
        return optuna.distributions.IntDistribution(int(choice.low), int(choice.high),
                                                    log=choice.log)
    return optuna.distributions.FloatDistribution(choice.low, choice.high, log=choice.log)


def space(spec: RecipeSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    return {name: distribution(choice) for name, choice in spec.space.items()}


@dataclass(frozen=True)
class FitNumber:
    """One reported number a recipe is fitted on (or checked against)."""

    cell: str  # "table/row/column"
    where: dict
    metric: str
    index: int | None
    reported: float
    se_reported: float


def fit_numbers(judge: Judge, tables: list[str]) -> list[FitNumber]:
    """The reported numbers of ``tables`` (metric columns with a reported value), with the
    standard error of each reported mean as the verdicts read it."""
    out = []
    for table in judge.claims.table:
        if table.id not in tables:
            continue
        n = judge.reported_n(table) or 1
        for row in table.row:
            for col in table.columns:
                if col.metric is None or col.param or col.key not in row.reported \
                        or row.not_run:
                    continue
                rep, _ = judge.read(reported_str(row.reported[col.key]), col.metric, n)
                index = row.index if row.index is not None else col.index
                se = rep.sd(n) / math.sqrt(n) if rep.spread is not None else math.nan
                rounding = _half_unit(rep.mean_text) / math.sqrt(3)  # uniform rounding error
                se = rounding if not math.isfinite(se) else max(se, rounding)
                out.append(FitNumber(f"{table.id}/{row.label}/{col.key}",
                                     {**row.where, **col.where}, col.metric, index, rep.mean,
                                     se))
    return out


def _half_unit(text: str) -> float:
    digits = text.strip().lstrip("+-").replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return 0.5 * 10.0 ** -decimals


def seed_sd(reference: Results, number: FitNumber) -> float:
    """The spread of one seed of ``number``'s configuration over the tier's own seeds (0
    with fewer than two)."""
    sel = reference.select(number.where, number.metric, number.index, "recipe")
    return float(np.std(sel.values, ddof=1)) if sel.n >= 2 else 0.0


def z_scores(numbers: list[FitNumber], ours: Results, reference: Results,
             runs: int | None = None) -> dict[str, float]:
    """z of each number: (ours - reported) / combined SD, ours the mean of the recipe's
    seeds (``runs`` of them: its SE shrinks as sd / sqrt(runs)); a number the recipe has
    no value for is left out."""
    out = {}
    for number in numbers:
        sel = ours.select(number.where, number.metric, number.index, "recipe")
        if sel.n == 0:
            continue
        sd = seed_sd(reference, number)
        spread = sd / math.sqrt(runs or sel.n)
        total = math.sqrt(spread**2 + number.se_reported**2)
        gap = float(np.mean(sel.values)) - number.reported
        out[number.cell] = gap / total if total > 0 else (0.0 if gap == 0 else math.inf)
    return out


def distance(z: dict[str, float]) -> float:
    """Root mean square of the z scores (inf when there are none)."""
    if not z:
        return math.inf
    return math.sqrt(sum(v * v for v in z.values()) / len(z))


@dataclass
class Trial:
    number: int
    values: dict
    cells: list[str]
    distance: float | None = None  # None until its cells ran


@dataclass
class Search:
    """A recipe search of one tier, as kept in the store and the reference."""

    command: str
    trials: list[Trial] = field(default_factory=list)
    best: list[Trial] = field(default_factory=list)  # re-run with every seed
    wall_s: float = 0.0

    def cell_ids(self) -> set[str]:
        return {c for t in [*self.trials, *self.best] for c in t.cells}

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> Search:
        return cls(data["command"], [Trial(**t) for t in data.get("trials", [])],
                   [Trial(**t) for t in data.get("best", [])], data.get("wall_s", 0.0))


def meta_key(suite: str, tier: str) -> str:
    return f"recipe:{suite}:{tier}"


def recipe_text(values: dict) -> str:
    return ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in values.items())
