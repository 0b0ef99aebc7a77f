"""Scale: how a tier differs from the write-up's own settings, and what that does to a
verdict.

A suite declares the write-up's settings once (``[scale]`` in suite.toml). A tier's
deviations from them are derived from its resolved parameters, never written by hand.
A verdict that compares reproduced numbers with the write-up's (a reproduced value, an
ordering of trained models, a test against chance) depends on scale; below or beside the
write-up's settings it is "not comparable at this tier", naming the tiers that would
test it, and its numbers are kept in the reason. Verdicts on the write-up against
itself and on metrics that declare ``depends_on = []`` do not depend on scale. What no
tier reproduces (``[scale].unmatched``, e.g. the write-up's data) differs at every tier.

A tier may stand for the write-up's scale (``stands_for_scale`` in suite.toml): it runs
other settings but reproduces the regime the claims are about, and its own run must show
that it did. When the run meets every requirement, its verdicts are judged, except on
metrics bound to a setting it changes (a density on a smaller canvas) and on
configurations that did not learn the task at its budget; when the run falls short, every
scale-dependent verdict is not comparable and says which requirement failed, by how much.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass

from ..spec.plan import Plan, resolve
from ..spec.schemas import ClaimSpec, LearnedSpec, MetricSpec, StandsForScale
from .aggregate import Results
from .verdict import JUDGED, NOT_COMPARABLE, NOT_TESTABLE, TableResult, Verdict

__all__ = ["NOT_COMPARABLE", "Standing", "apply", "deviations", "standing", "summary"]
TUNING_TRIALS = "tuning_trials"  # the key of the write-up's tuning budget


@dataclass(frozen=True)
class Deviation:
    key: str
    tier_value: object
    writeup_value: object
    unmatched: bool = False  # no tier can match it ([scale].unmatched)

    def text(self) -> str:
        if self.unmatched:
            return f"{self.key}: {self.tier_value} (the write-up's is not reproduced)"
        return f"{self.key} = {_show(self.tier_value)} (write-up: {_show(self.writeup_value)})"


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _same(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return a == b


def deviations(plan: Plan, grid: str | None = None) -> list[Deviation]:
    """The write-up's settings that this tier's cells of ``grid`` (None: the main grid)
    run with other values."""
    spec = plan.suite.spec.scale
    if spec is None:
        return []
    grid_spec = spec.grids.get(grid) if grid else None
    stated = grid_spec.params if grid_spec else spec.params  # a grid's own, else the main
    grid_def = next((g for g in plan.grids if g.name == grid), None)
    params = {**plan.params, **(grid_def.params if grid_def else {})}
    out = [Deviation(k, params.get(k), v) for k, v in stated.items()
           if not _same(params.get(k), v)]
    if grid is None and spec.tuning_trials is not None and plan.tuning is not None \
            and plan.tuning.trials != spec.tuning_trials:
        out.append(Deviation(TUNING_TRIALS, plan.tuning.trials, spec.tuning_trials))
    return out + [Deviation(k, ours, None, unmatched=True) for k, ours in spec.unmatched.items()]


def summary(plan: Plan, stand: Standing | None = None) -> str:
    """One sentence for the report's heading: the tier against the write-up's settings
    (and, for a tier that stands for them, whether its run showed the regime)."""
    if plan.suite.spec.scale is None:
        return ("The suite does not declare the write-up's settings ([scale]): verdicts are "
                "given as if this tier were the write-up's experiment.")
    spec = plan.suite.spec.scale
    parts = []
    # an extra grid without settings of its own runs the main ones: said once
    for grid in [None, *(g.name for g in plan.grids if g.name in spec.grids)]:
        devs = deviations(plan, grid)
        if devs:
            where = "" if grid is None else f"grid {grid}: "
            parts.append(where + "; ".join(d.text() for d in devs))
    note = f" (Settings: {spec.note.rstrip().rstrip('.')}.)" if spec.note else ""
    if not parts:
        return f"This tier runs the write-up's stated settings.{note}"
    if stand is not None:
        return (f"This tier differs from the write-up's settings ({'; '.join(parts)}) and "
                f"stands for its scale: {stand.rule.why} {stand.text()}{note}")
    return (f"This tier differs from the write-up's settings ({'; '.join(parts)}): verdicts "
            f"that depend on them are not comparable here.{note}")


_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _where_text(where: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in where.items()) or "every configuration"


@dataclass
class Standing:
    """What the run of a tier that stands for the write-up's scale showed."""

    rule: StandsForScale
    checks: list[tuple[str, bool]]  # each requirement: its text with the run's value, met
    unlearned: dict[str, str]  # config key -> why it has not learned (seed mean vs the bar)
    bound: list[str]  # settings this tier changes that some metric's number is tied to

    @property
    def met(self) -> bool:
        return all(ok for _, ok in self.checks)

    def text(self) -> str:
        shown = "; ".join(text for text, _ in self.checks)
        if not self.met:
            return (f"Its run must show every one of: {shown}. It falls short, so verdicts "
                    f"that depend on the write-up's settings are not comparable here.")
        out = f"Its run shows the regime ({shown}), so verdicts are judged here"
        if self.bound:
            out += f", except on numbers that depend on {', '.join(self.bound)}"
        if self.unlearned:
            out += (f"; configurations that did not learn the task at this budget are not "
                    f"comparable: {'; '.join(self.unlearned.values())}")
        return out + "."


def _condition(results: Results, condition: LearnedSpec, where: dict, source: str
               ) -> tuple[str, bool]:
    """(text with the run's values, met) of a condition on every configuration ``where``
    selects. A configuration with a failed seed, or with no finished seed that returned
    the metric, does not meet it; nor does a ``where`` that selects none."""
    configs = [c for c in results.configs if all(c.get(k) == v for k, v in where.items())]
    index = getattr(condition, "index", None)
    entry = condition.metric + (f"[{index}]" if index is not None else "")
    parts, met = [], bool(configs)
    for config in configs:
        sel = results.select(config, condition.metric, index, source)
        if sel.n == 0:
            value, ok = "not measured", False
        else:
            mean = float(sel.values.mean())
            ok = bool(_OPS[condition.op](mean, condition.value)) and sel.failed == 0
            value = f"{mean:.4g} (n = {sel.n}" + (f", {sel.failed} failed" if sel.failed
                                                 else "") + ")"
            if sel.n > 1:  # the rule reads the mean; how many seeds meet it alone is shown
                alone = sum(bool(_OPS[condition.op](float(x), condition.value))
                            for x in sel.values)
                value += f", {alone} of {sel.n} seeds on their own"
        parts.append(f"{entry} of {_where_text(config)}: {value}")
        met = met and ok
    shown = "; ".join(parts) or f"{entry} of {_where_text(where)}: no such configuration"
    return f"{shown} (needs {condition.op} {condition.value:g})", met


def config_key(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def standing(plan: Plan, results: Results) -> Standing | None:
    """The requirements of a tier that stands for the write-up's scale, checked on its
    run's seed means; None for any other tier."""
    rule = plan.suite.spec.tiers[plan.tier].stands_for_scale
    if rule is None:
        return None
    source = f"suite.toml: tiers.{plan.tier}.stands_for_scale"
    checks = [_condition(results, condition, condition.where, source)
              for condition in rule.requires]
    unlearned = {}
    if rule.learned is not None:
        for config in results.configs:
            if not results.ran(config):
                continue  # not run at this tier (a cut): nothing compares it
            text, ok = _condition(results, rule.learned, config, source)
            if not ok:  # below the bar, a failed seed, or never measured
                unlearned[config_key(config)] = text
    devs = deviations(plan)
    changed = {d.key for d in devs}
    bound = sorted(({k for m in plan.suite.spec.metrics.values() for k in m.bound_to} & changed)
                   | {d.key for d in devs if d.unmatched})  # what no tier reproduces
    return Standing(rule, checks, unlearned, bound)


def _relevant(devs: list[Deviation], metric: MetricSpec, stands: bool) -> list[Deviation]:
    """The deviations a verdict on ``metric`` depends on. At a tier that stands for the
    write-up's scale (and whose run shows it), only those the metric is bound to, and what
    no tier reproduces."""
    out = devs if metric.depends_on is None else [d for d in devs if d.key in metric.depends_on]
    if stands:
        out = [d for d in out if d.unmatched or d.key in metric.bound_to]
    return out


def _tiers_at_scale(tiers: list[Plan], grid: str | None, metric: MetricSpec,
                    current: str) -> list[str]:
    out = []
    for other in tiers:
        if other.tier == current:
            continue
        stands = other.suite.spec.tiers[other.tier].stands_for_scale is not None
        if (grid is None or any(g.name == grid for g in other.grids)) and \
                not _relevant(deviations(other, grid), metric, stands):
            out.append(other.tier + (" (when its run shows the regime)" if stands else ""))
    return out


def _not_comparable(v: Verdict, plan: Plan, tiers: list[Plan], grids: set[str | None],
                    metric: MetricSpec, stand: Standing | None, configs: list[str],
                    relative: bool = False) -> None:
    """``relative``: the verdict compares two of this suite's configurations with each
    other, no number of the write-up's (a ``greater``, ``equivalent`` or
    ``non_inferior`` claim): where no tier could test it as a reproduction it is still
    judged, as a conceptual replication on the suite's own data, and labelled so."""
    if v.verdict not in JUDGED:
        return
    devs: dict[str, Deviation] = {}
    for grid in grids:
        devs.update((d.key, d) for d in _relevant(deviations(plan, grid), metric, False))
    if not devs:
        return
    shown = "; ".join(d.text() for d in devs.values())
    # a run that does not show the regime (or a configuration that has not learned the
    # task) is no evidence for an ordering either: no conceptual replication from it
    unfit = stand is not None and (not stand.met or any(k in stand.unlearned
                                                          for k in configs))
    if stand is None:
        why = f"which runs {shown}"
    elif not stand.met:
        short = "; ".join(text for text, ok in stand.checks if not ok)
        why = (f"which runs {shown} and stands for the write-up's scale only when its run "
               f"shows the regime, which this run does not ({short})")
    else:
        bound = {d.key: d for grid in grids
                 for d in _relevant(deviations(plan, grid), metric, True)}
        missing = [stand.unlearned[k] for k in configs if k in stand.unlearned]
        if bound:
            why = (f"which stands for the write-up's scale but runs "
                   f"{'; '.join(d.text() for d in bound.values())}, and this number depends "
                   f"on {'it' if len(bound) == 1 else 'them'}")
        elif missing:
            why = (f"where a configuration compared here has not learned the task at this "
                   f"tier's budget ({'; '.join(missing)})")
        else:  # judged, and the reason says where
            v.reason = (f"Judged at tier {plan.tier}, which runs {shown} and stands for the "
                        f"write-up's scale: its run shows the regime "
                        f"({'; '.join(text for text, _ in stand.checks)}). {v.reason}")
            return
    at_scale = sorted(set.intersection(*(set(_tiers_at_scale(tiers, g, metric, plan.tier))
                                         for g in grids)))
    here = f"At this tier ({v.verdict}, before the report's Holm correction): {v.reason}"
    if at_scale:
        v.reason = (f"Not comparable at tier {plan.tier}, {why}: the "
                    f"tier{'s' if len(at_scale) > 1 else ''} {', '.join(at_scale)} would "
                    f"test it. {here}")
        v.verdict = NOT_COMPARABLE
    else:  # no tier would: a bigger run of this suite cannot decide it
        unmatched = [d.text() for d in devs.values() if d.unmatched]
        cause = (f"it depends on what no tier reproduces ({'; '.join(unmatched)})"
                 if unmatched else "no tier of this suite runs the write-up's settings")
        runs = why.removeprefix("which ") if why.startswith("which ") else \
            f"is not comparable, {why}"
        # only at the suite's reference tier: its answer, not a wiring or smoke run
        if relative and not unfit and plan.tier == plan.suite.spec.reference:
            v.reason = (f"Conceptual replication: as a reproduction this claim is not "
                        f"testable by this suite ({cause}; tier {plan.tier} {runs}), so the "
                        "ordering it states is tested between this suite's own "
                        f"configurations instead. {v.reason}")
            v.evidence["conceptual"] = True
            return
        v.reason = f"Not testable by this suite: {cause}. Tier {plan.tier} {runs}. {here}"
        v.verdict = NOT_TESTABLE
    v.seeds_needed, v.p, v.need = None, None, None  # not judged: outside the Holm family


# claims between two of the suite's configurations, testable on its own data
RELATIVE_KINDS = ("greater", "equivalent", "non_inferior")


def _grid_of(plan: Plan, where: dict | None) -> str | None:
    return (where or {}).get("grid") if plan.grids else None


def _configs(results: Results | None, wheres: list[dict]) -> list[str]:
    """The keys of the configurations ``wheres`` select (those the tier has)."""
    if results is None:
        return []
    found = [results.config_for(w, "claims.toml") for w in wheres]
    return [config_key(c) for c in found if c is not None]


def apply(plan: Plan, claims: list[ClaimSpec], verdicts: list[Verdict],
          tables: list[TableResult], results: Results | None = None,
          stand: Standing | None = None) -> None:
    """Turn the scale-dependent verdicts of a tier that differs from the write-up's
    settings into "not comparable" (in place). ``verdicts`` are the claims' verdicts, in
    the order of ``claims``; ``stand`` is ``standing(plan, results)`` for a tier that
    stands for the write-up's scale (computed once per report by the caller)."""
    metrics = plan.suite.spec.metrics
    tiers = [resolve(plan.suite, t) for t in plan.suite.tiers]  # once per report
    for claim, verdict in zip(claims, verdicts, strict=True):
        metric = getattr(claim, "metric", None)
        if metric is None:  # the write-up against itself, or not testable
            continue
        b = getattr(claim, "b", None)
        grids = {_grid_of(plan, claim.a)} | ({_grid_of(plan, b)} if b else set())
        wheres = [claim.a] + ([b] if b else [])
        # two configurations of the suite (not two entries or strata of one)
        relative = claim.kind in RELATIVE_KINDS and b is not None and b != claim.a and \
            not verdict.id.endswith("/size")
        _not_comparable(verdict, plan, tiers, grids, metrics[metric], stand,
                        _configs(results, wheres), relative)
    for table in tables:
        for (r, key), cell in table.cells.items():
            if table.spec.row[r].not_run:  # nothing of ours to compare
                continue
            col = next(c for c in table.spec.columns if c.key == key)
            where = {**table.spec.row[r].where, **col.where}
            for verdict in cell.verdicts:
                _not_comparable(verdict, plan, tiers, {_grid_of(plan, where)},
                                metrics[col.metric], stand, _configs(results, [where]))
