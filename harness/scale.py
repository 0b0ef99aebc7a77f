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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .plan import Plan, resolve
from .specs import ClaimSpec
from .verdict import JUDGED, NOT_COMPARABLE, TableResult, Verdict

__all__ = ["NOT_COMPARABLE", "apply", "deviations", "summary"]
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


def summary(plan: Plan) -> str:
    """One sentence for the report's heading: the tier against the write-up's settings."""
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
    note = f" (Settings: {spec.note}.)" if spec.note else ""
    if not parts:
        return f"This tier runs the write-up's stated settings.{note}"
    return (f"This tier differs from the write-up's settings ({'; '.join(parts)}): verdicts "
            f"that depend on them are not comparable here.{note}")


def _relevant(devs: list[Deviation], depends_on: list[str] | None) -> list[Deviation]:
    return devs if depends_on is None else [d for d in devs if d.key in depends_on]


def _tiers_at_scale(tiers: list[Plan], grid: str | None, depends_on: list[str] | None
                    ) -> list[str]:
    out = []
    for other in tiers:
        if (grid is None or any(g.name == grid for g in other.grids)) and \
                not _relevant(deviations(other, grid), depends_on):
            out.append(other.tier)
    return out




def _not_comparable(v: Verdict, plan: Plan, tiers: list[Plan], grids: set[str | None],
                    depends_on: list[str] | None) -> None:
    if v.verdict not in JUDGED:
        return
    devs: dict[str, Deviation] = {}
    for grid in grids:
        devs.update((d.key, d) for d in _relevant(deviations(plan, grid), depends_on))
    if not devs:
        return
    at_scale = sorted(set.intersection(*(set(_tiers_at_scale(tiers, g, depends_on))
                                         for g in grids)))
    test = (f"the tier{'s' if len(at_scale) > 1 else ''} {', '.join(at_scale)} "
            f"would test it" if at_scale else
            "no tier of this suite runs the write-up's settings")
    v.reason = (f"Not comparable at tier {plan.tier}, which runs "
                f"{'; '.join(d.text() for d in devs.values())}: {test}. "
                f"At this tier ({v.verdict}, before the report's Holm correction): "
                f"{v.reason}")
    v.verdict = NOT_COMPARABLE
    v.seeds_needed, v.p, v.need = None, None, None  # not judged: outside the Holm family


def _grid_of(plan: Plan, where: dict | None) -> str | None:
    return (where or {}).get("grid") if plan.grids else None


def apply(plan: Plan, claims: list[ClaimSpec], verdicts: list[Verdict],
          tables: list[TableResult]) -> None:
    """Turn the scale-dependent verdicts of a tier that differs from the write-up's
    settings into "not comparable" (in place). ``verdicts`` are the claims' verdicts, in
    the order of ``claims``."""
    metrics = plan.suite.spec.metrics
    tiers = [resolve(plan.suite, t) for t in plan.suite.tiers]  # once per report
    for claim, verdict in zip(claims, verdicts, strict=True):
        metric = getattr(claim, "metric", None)
        if metric is None:  # the write-up against itself, or not testable
            continue
        b = getattr(claim, "b", None)
        grids = {_grid_of(plan, claim.a)} | ({_grid_of(plan, b)} if b else set())
        _not_comparable(verdict, plan, tiers, grids, metrics[metric].depends_on)
    for table in tables:
        for (r, key), cell in table.cells.items():
            col = next(c for c in table.spec.columns if c.key == key)
            where = {**table.spec.row[r].where, **col.where}
            for verdict in cell.verdicts:
                _not_comparable(verdict, plan, tiers, {_grid_of(plan, where)},
                                metrics[col.metric].depends_on)
