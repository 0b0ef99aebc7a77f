"""What a verdict is: an outcome, the quote it answers and one sentence of reason.

Outcomes: supported, contradicted and inconclusive come from a test (or an exact
comparison); "not comparable" is a scale-dependent verdict at a tier below the
write-up's settings (scale.py); "not testable" and "not run" say why there is no test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from . import stats
from .questions import CONTRADICTED, INCONCLUSIVE, SUPPORTED
from .specs import TableSpec

NOT_TESTABLE, NOT_RUN = "not testable", "not run"
NOT_COMPARABLE = "not comparable"  # the tier differs from the write-up's settings (scale.py)
JUDGED = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)

# Seeds that would settle an inconclusive test at a given level: (count or None, sentence)
Need = Callable[[float], tuple[int | None, str]]


@dataclass
class Verdict:
    id: str
    kind: str
    quote: str
    verdict: str
    reason: str
    section: str = ""
    seeds_needed: int | None = None
    writeup: str | None = None  # the check on the write-up's own numbers, when there is one
    writeup_ok: bool | None = None
    # The test behind a judged verdict: the p of the outcome it reached (or of the nearer
    # one when inconclusive), before and after the report's Holm correction (correction.py)
    p: float | None = None
    p_holm: float | None = None
    alpha: float | None = None  # the level the corrected p was held to
    need: Need | None = field(default=None, repr=False)
    evidence: dict = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        """Listed among the claims the numbers do not support: a verdict neither supported
        nor left to a tier at the write-up's scale, or a write-up at odds with itself."""
        return self.verdict not in (SUPPORTED, NOT_COMPARABLE) or self.writeup_ok is False


@dataclass
class TableCell:
    reported: stats.Reported | None
    reported_text: str | None
    reproduced: stats.Summary | None
    param_value: object | None
    verdict: Verdict | None  # reproduced within the margin of the reported number
    failed: int = 0
    chance: Verdict | None = None  # the reported and reproduced numbers against chance

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for v in (self.verdict, self.chance) if v is not None]


@dataclass
class TableResult:
    spec: TableSpec
    cells: dict[tuple[int, str], TableCell]  # (row index, column key) -> cell


def fmt(x: float | None, spec: str = ".4g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return format(x, spec)


def p_text(p: float, alpha: float) -> str:
    """``p`` to two significant digits, or as many more as keep it on its side of
    ``alpha`` (0.0497 is not printed "0.05" beside a decisive verdict)."""
    for digits in range(2, 8):
        text = fmt(p, f".{digits}g")
        if (float(text) < alpha) == (p < alpha):
            return text
    return fmt(p, ".8g")


def about(n: int | None) -> str:
    """A seed count from a power calculation, rounded: it rests on an effect observed with
    few seeds, so its digits beyond the first carry nothing."""
    if n is None or n > 1000:
        return "more than 1000"
    if n <= 10:
        return f"about {n}"
    step = 10 if n <= 100 else 100
    return f"about {max(step, round(n / step) * step)}"
