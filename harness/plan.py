"""From a suite and a tier to the cells to run: overrides, grid expansion, stable ids."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field

from .errors import SpecError
from .specs import TuningSpec
from .suite import Suite


@dataclass(frozen=True)
class Cell:
    """One point of the grid with one seed (or one tuning trial)."""

    id: str
    suite: str
    stage: str  # "main" or "tune"
    params: dict = field(hash=False, compare=False)

    @property
    def seed(self) -> int:
        return int(self.params["seed"])


@dataclass(frozen=True)
class Grid:
    name: str
    factors: dict[str, list]
    params: dict  # what this grid's cells add to the plan's params


@dataclass(frozen=True)
class Plan:
    suite: Suite
    tier: str
    factors: dict[str, list]  # the main grid
    params: dict
    seeds: list[int]
    tuning: TuningSpec | None
    grids: tuple[Grid, ...] = ()  # extra grids at this tier

    @property
    def tuning_round(self) -> int:
        """Trials asked before any result is told (TPE's 10 random start-up trials)."""
        if not self.tuning:
            return 1
        return self.tuning.parallel or min(self.tuning.trials, 10)

    @property
    def factor_names(self) -> list[str]:
        """Factors of every grid, main first, then ``grid`` when there are extra grids."""
        names = list(self.factors)
        for g in self.grids:
            names += [k for k in g.factors if k not in names]
        return names + (["grid"] if self.suite.spec.grid else [])

    def main_configs(self) -> list[dict]:
        return _product(self.factors)

    def configs(self) -> list[dict]:
        """Every configuration (factor values, no seed) of every grid, in suite order."""
        out = self.main_configs()
        for g in self.grids:
            out += [{"grid": g.name, **c} for c in _product(g.factors)]
        return out

    def config_params(self, config: dict) -> dict:
        """Parameters of a configuration's cells, before tuning and seed."""
        grid = next((g for g in self.grids if g.name == config.get("grid")), None)
        return {**self.params, **(grid.params if grid else {}), **config}

    def tuning_groups(self) -> list[dict]:
        if not self.tuning:
            return []
        per = self.tuning.per
        seen: list[dict] = []
        for config in self.main_configs():
            group = {k: config[k] for k in per}
            if group not in seen:
                seen.append(group)
        return seen

    def tuning_config(self, group: dict) -> dict:
        """The config a group is tuned on: its first config in grid order."""
        return next(c for c in self.main_configs() if all(c[k] == v for k, v in group.items()))

    def trial_cell(self, config: dict, value: float) -> Cell:
        """One tuning trial: the config, the trial overrides, the suggested value."""
        assert self.tuning is not None
        params = {**self.params, **config, **self.tuning.params, self.tuning.param: value,
                  "seed": self.tuning.seed}
        return make_cell(self.suite, "tune", params)

    def main_cells(self, tuned: dict[str, dict] | None = None) -> list[Cell]:
        """Cells of the main grid. ``tuned`` maps a tuning group key to the chosen values;
        configs of a group with no tuned value yet (tuning incomplete) are left out."""
        cells = []
        for config in self.configs():
            extra: dict = {}
            if self.tuning and "grid" not in config:
                extra = (tuned or {}).get(group_key({k: config[k] for k in self.tuning.per}))
                if extra is None:
                    continue
            for seed in self.seeds:
                params = {**self.config_params(config), **extra, "seed": seed}
                cells.append(make_cell(self.suite, "main", params))
        return cells

    def cell_count(self) -> tuple[int, int]:
        """(main cells, tuning trials) of this tier."""
        main = len(self.configs()) * len(self.seeds)
        trials = len(self.tuning_groups()) * self.tuning.trials if self.tuning else 0
        return main, trials


def _product(factors: dict[str, list]) -> list[dict]:
    names = list(factors)
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(factors[n] for n in names))]


def group_key(group: dict) -> str:
    return json.dumps(group, sort_keys=True)


def cell_id(suite: Suite, stage: str, params: dict) -> str:
    """Stable hash of what determines a cell's result (the tier is not part of it)."""
    payload = json.dumps({"suite": suite.name, "task_version": suite.task_version,
                          "stage": stage, "params": params}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def narrow(factors: dict[str, list], keep: dict[str, list]) -> dict[str, list]:
    """A grid's factors with a tier's values kept: each factor the tier names keeps only
    the values the tier lists (in the grid's order); the others keep all of theirs."""
    return {k: [v for v in values if v in keep[k]] if k in keep else list(values)
            for k, values in factors.items()}


def make_cell(suite: Suite, stage: str, params: dict) -> Cell:
    return Cell(cell_id(suite, stage, params), suite.name, stage, params)


def resolve(suite: Suite, tier: str | None = None) -> Plan:
    spec = suite.spec
    tier = tier or spec.default_tier
    if tier not in spec.tiers:
        raise SpecError(suite.folder / "suite.toml", "tiers",
                        f"no tier {tier!r}; this suite has {sorted(spec.tiers)}")
    t = spec.tiers[tier]
    factors = narrow(spec.factors, t.factors)
    params = {**spec.params, **t.params}
    seeds_spec = t.seeds if t.seeds is not None else spec.seeds
    seeds = list(range(seeds_spec)) if isinstance(seeds_spec, int) else list(seeds_spec)
    narrowed = [(g, narrow(g.factors, t.factors)) for g in spec.grid
                if t.grids is None or g.name in t.grids]
    grids = tuple(Grid(g.name, kept, {**g.params, **t.params})
                  for g, kept in narrowed if all(kept.values()))  # narrowed to nothing: out
    tuning = spec.tuning
    if tuning and t.tuning:
        update = {"params": {**tuning.params, **t.tuning.params}}
        if t.tuning.trials is not None:
            update["trials"] = t.tuning.trials
        tuning = tuning.model_copy(update=update)
    return Plan(suite, tier, factors, params, seeds, tuning, grids)
