"""Uncertainty of a number computed from the write-up's reported cells (delta method).

A reported percentage change or difference of two means ± SD is as uncertain as its
inputs; judging a reproduction against it as if it were exact overstates what the
write-up showed. ``propagate`` evaluates an expression of ``expressions.py`` at the
reported means and carries each cited cell's standard error through first-order partial
derivatives (central differences); the degrees of freedom follow Welch-Satterthwaite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .expressions import evaluate

# (table, row, column) -> (mean, SD or None, runs or None)
StatsLookup = Callable[[str, str, str], tuple[float, float | None, int | None]]


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float  # 0 when no cited cell carries a spread over a known number of runs
    df: float  # inf when se is 0
    cited: list[str]


def propagate(expr: str, lookup: StatsLookup) -> Estimate:
    inputs: dict[tuple[str, str, str], tuple[float, float]] = {}  # key -> (mean, se)
    runs: dict[tuple[str, str, str], int] = {}

    def base(table: str, row: str, col: str) -> tuple[float, float | None]:
        mean, sd, n = lookup(table, row, col)
        se = sd / math.sqrt(n) if sd is not None and n and n >= 2 else 0.0
        inputs[(table, row, col)] = (mean, se)
        if n:
            runs[(table, row, col)] = n
        return mean, sd

    value, cited = evaluate(expr, base)
    terms: list[tuple[float, float]] = []  # (variance contribution, df)
    for key, (_, se) in inputs.items():
        if se == 0:
            continue
        h = se * 1e-3

        def shifted(delta: float, key=key) -> float:
            def look(table: str, row: str, col: str) -> tuple[float, float | None]:
                m, sd, _ = lookup(table, row, col)
                return (m + delta if (table, row, col) == key else m), sd
            return evaluate(expr, look)[0]

        slope = (shifted(h) - shifted(-h)) / (2 * h)
        terms.append(((slope * se) ** 2, runs[key] - 1))
    var = sum(v for v, _ in terms)
    if var == 0:
        return Estimate(value, 0.0, math.inf, cited)
    df = var**2 / sum(v**2 / d for v, d in terms if v > 0)
    return Estimate(value, math.sqrt(var), df, cited)
