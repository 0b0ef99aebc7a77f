"""From a suite and a tier to the cells to run: overrides, grid expansion, stable ids."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace

from ..errors import SpecError
from .schemas import TuningSpec, narrow
from .schemas import product_of as _product
from .suite import Suite

# The most cells (main cells and tuning trials) a tier may have. A factor product grows
# fast (three factors of 450 values are 91 million cells), and every command expands the
# tier's cells in memory before anything trains.
MAX_TIER_CELLS = 100_000


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
    # A part of the tier (--where, --seeds): factor -> the values kept; ``whole`` is the
    # tier's own plan, set only on a narrowed plan.
    where: dict[str, list] = field(default_factory=dict)
    whole: Plan | None = field(default=None, repr=False)
    # parameters set for this run (--set, --config: overrides.py), part of every cell's id
    overrides: dict = field(default_factory=dict)

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
        """The tier's main grid, whatever ``where`` keeps (tuning is done on these)."""
        return _product(self.factors)

    def configs(self) -> list[dict]:
        """Every configuration (factor values, no seed) of every grid that ``where``
        keeps, in suite order."""
        out = self.main_configs()
        for g in self.grids:
            out += [{"grid": g.name, **c} for c in _product(g.factors)]
        return [c for c in out if self._kept(c)]

    def _kept(self, config: dict) -> bool:
        """A configuration is kept when, for every ``where`` key (AND), its value is one
        of the key's values (OR). Its value is its factor value, or else the parameter
        its grid runs with (a main config has no ``grid``)."""
        params = self.config_params(config) if self.where else {}
        return all(key in params and params[key] in values for key, values in self.where.items())

    def factor_values(self) -> dict[str, list]:
        """Every factor of this tier's grids, and ``grid`` (the extra grids' names) when
        the suite has extra grids, with the values its cells can take."""
        out: dict[str, list] = {k: list(v) for k, v in self.factors.items()}
        for g in self.grids:
            for k, values in g.factors.items():
                out.setdefault(k, [])
                out[k] += [v for v in values if v not in out[k]]
        if self.suite.spec.grid:
            out["grid"] = [g.name for g in self.grids]
        return out

    def narrowed(self, where: dict[str, list] | None = None,
                 seeds: list[int] | None = None) -> Plan:
        """This plan cut to part of its tier: the configurations ``where`` keeps (see
        ``_kept``) and ``seeds`` instead of the tier's. Tuning keeps the groups the kept
        main configurations need, each tuned exactly as in the whole tier. Runner, report
        and export all read the cut from here."""
        if not where and seeds is None:
            return self
        kept = {k: list(v) for k, v in self.where.items()}
        for key, values in (where or {}).items():
            kept[key] = [v for v in kept[key] if v in values] if key in kept else list(values)
        return replace(self, where=kept, seeds=list(self.seeds if seeds is None else seeds),
                       whole=self.whole or self)

    @property
    def subset(self) -> str:
        """What part of the tier this plan is, e.g. 'model=fsb; seeds 0, 1 (the tier has
        0, 1, 2)'; empty for the whole tier."""
        if self.whole is None:
            return ""
        parts = [f"{k}={', '.join(value_text(v) for v in values)}"
                 for k, values in self.where.items()]
        parts += [f"{k} set to {value_text(v)} (the tier's: {value_text(self.whole.params[k])})"
                  for k, v in self.overrides.items()]
        if self.seeds != self.whole.seeds:
            parts.append(f"seeds {', '.join(map(str, self.seeds))} (the tier has "
                         f"{', '.join(map(str, self.whole.seeds))})")
        return "; ".join(parts)

    def config_params(self, config: dict) -> dict:
        """Parameters of a configuration's cells, before tuning and seed."""
        grid = next((g for g in self.grids if g.name == config.get("grid")), None)
        return {**self.params, **(grid.params if grid else {}), **config}

    def tuning_groups(self) -> list[dict]:
        if not self.tuning:
            return []
        per = self.tuning.per
        seen: list[dict] = []
        for config in self.configs():  # the groups the kept main configs need
            if "grid" in config:
                continue
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
            extra = self._tuned(config, tuned)
            if extra is None:
                continue
            for seed in self.seeds:
                params = {**self.config_params(config), **extra, "seed": seed}
                cells.append(make_cell(self.suite, "main", params))
        return cells

    def _tuned(self, config: dict, tuned: dict[str, dict] | None) -> dict | None:
        """The tuned values a main configuration's cells run with ({} when nothing is
        tuned for it); None while its tuning group has no value yet."""
        if not self.tuning or "grid" in config:
            return {}
        return (tuned or {}).get(group_key({k: config[k] for k in self.tuning.per}))

    def sensitivity_cells(self, tuned: dict[str, dict] | None = None
                          ) -> list[tuple[int, Cell]]:
        """(sweep index, cell) of the suite's [[sensitivity]] sweeps at this tier: every
        main configuration a sweep's ``where`` keeps, at each value other than its own,
        every seed, with the tuned values the main cells got (stage "sens")."""
        out = []
        for i, sweep in enumerate(self.suite.spec.sensitivity):
            for config in self.configs():
                if "grid" in config or any(config.get(k) != v for k, v in sweep.where.items()):
                    continue
                extra = self._tuned(config, tuned)
                if extra is None:
                    continue
                base = self.config_params(config)
                for value in sweep.values:
                    if value == base[sweep.param]:
                        continue
                    for seed in self.seeds:
                        params = {**base, **extra, sweep.param: value, "seed": seed}
                        out.append((i, make_cell(self.suite, "sens", params)))
        return out

    def cell_count(self) -> tuple[int, int]:
        """(main cells, tuning trials) of this tier."""
        main = len(self.configs()) * len(self.seeds)
        trials = len(self.tuning_groups()) * self.tuning.trials if self.tuning else 0
        return main, trials


def group_key(group: dict) -> str:
    return json.dumps(group, sort_keys=True)


def value_text(value: object) -> str:
    """A factor value as a user writes it (TOML spelling for booleans): 'fsb', '0.01',
    'true'."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def cell_id(suite: Suite, stage: str, params: dict) -> str:
    """Stable hash of what determines a cell's result: the suite, the digest of the code
    its task runs (harness/spec/identity.py), TASK_VERSION, the stage and the parameters. The
    tier is not part of it, so tiers share cells."""
    payload = json.dumps({"suite": suite.name, "code": suite.code.digest,
                          "task_version": suite.task_version, "stage": stage,
                          "params": params}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


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
    _check_size(suite, tier, factors, grids, seeds, tuning)
    return Plan(suite, tier, factors, params, seeds, tuning, grids)


def _check_size(suite: Suite, tier: str, factors: dict[str, list], grids: tuple[Grid, ...],
                seeds: list[int], tuning: TuningSpec | None) -> None:
    """Refuse a tier of more than MAX_TIER_CELLS cells, counted from the factors' sizes
    before any product is expanded; the error names the count and what makes it."""
    grid_sizes = [("main grid", factors), *((f"grid {g.name!r}", g.factors) for g in grids)]
    configs = sum(math.prod(len(v) for v in f.values()) for _, f in grid_sizes)
    trials = 0
    if tuning:
        trials = math.prod(len(factors.get(k, [None])) for k in tuning.per) * tuning.trials
    total = configs * len(seeds) + trials
    if total <= MAX_TIER_CELLS:
        return
    parts = [f"{name}: " + " x ".join(f"{k} {len(v)}" for k, v in f.items())
             for name, f in grid_sizes]
    tuned = f" + {trials:,} tuning trials" if trials else ""
    raise SpecError(suite.folder / "suite.toml", f"tiers.{tier}",
                    f"{total:,} cells ({configs:,} configurations x {len(seeds)} seeds{tuned}; "
                    f"{'; '.join(parts)}) exceed the cap of {MAX_TIER_CELLS:,} cells per tier; "
                    "narrow the tier's factors or seeds")
