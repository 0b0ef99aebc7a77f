"""Can a write-up's numbers be right as printed? Granularity and range checks.

Pure functions over exact rationals (``fractions.Fraction``): a printed number stands for
every value that rounds to it, ``[x - h, x + h]`` with ``h`` half a unit of its last
printed digit.

- GRIM (Brown & Heathers 2016): the mean of ``n`` values that each lie on a grid of step
  ``g`` (a count: 1; an accuracy over N examples in %: 100 / N) is ``g * S / n`` for an
  integer sum ``S``; a printed mean that no such ``S`` rounds to is impossible.
- GRIMMER (Anaya 2016; Heathers & Brown 2019): with the mean's possible sums, the
  sample SD is ``g * sqrt((Q - S^2 / n) / (n - 1))`` for an integer sum of squares ``Q``
  of the same parity as ``S`` (``y^2`` and ``y`` are both odd or both even) and at least
  ``S^2 / n``. Those two conditions are necessary, not sufficient (no three integers
  have sum 0 and sum of squares 4), so each candidate ``(S, Q)`` is then searched for
  ``n`` integers that have it, and the finding prints the values found; a search too
  large for its budget says that only the necessary conditions were checked. A printed
  spread is impossible only when no ``(S, Q)`` gives it as a sample SD, a population SD
  (``/ n``) or, unless the write-up says which, a standard error.
- A bounded metric (in ``[low, high]``) cannot spread more than
  ``sqrt((m - low) (high - m) n / (n - 1))`` around its mean ``m``.

Each check returns a ``Finding``: ``consistent``, ``inconsistent`` (no value the printed
number stands for passes), ``uninformative`` (the printed precision cannot decide) or
``implausible`` (possible, but worth a look), the arithmetic as text, and where a check
fails, which ``n`` or ``N`` would pass it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

CONSISTENT, INCONSISTENT, UNINFORMATIVE = "consistent", "inconsistent", "uninformative"
# possible, but worth a look: worse than chance, a difference claimed between equal numbers
IMPLAUSIBLE = "implausible"
MAX_EXPONENT = 400  # as stats.MAX_EXPONENT, which refuses such numbers when claims.toml loads


@dataclass(frozen=True)
class Printed:
    """A number as the write-up printed it: its value and half a unit of its last digit."""

    value: Fraction
    half_ulp: Fraction
    text: str

    @classmethod
    def parse(cls, text: str) -> Printed:
        """'81.22' -> 81.22 +- 0.005; '27' -> 27 +- 0.5; '1,236' -> 1236 +- 0.5."""
        clean = text.strip().replace(",", "").replace("\u2212", "-").rstrip("%").strip()
        number = Decimal(clean)
        exponent = number.as_tuple().exponent
        if not isinstance(exponent, int):
            raise ValueError(f"not a finite number: {text!r}")
        if abs(exponent) > MAX_EXPONENT:  # 10 ** exponent would take hours
            raise ValueError(f"{text!r}: decimal exponent beyond ±{MAX_EXPONENT}")
        return cls(Fraction(number), Fraction(1, 2) * Fraction(10) ** exponent, text.strip())

    @property
    def low(self) -> Fraction:
        return self.value - self.half_ulp

    @property
    def high(self) -> Fraction:
        return self.value + self.half_ulp


@dataclass(frozen=True)
class Finding:
    check: str  # "GRIM", "GRIMMER", "range", "recomputation", ...
    outcome: str  # CONSISTENT | INCONSISTENT | UNINFORMATIVE
    arithmetic: str
    would_pass: list[str] = field(default_factory=list)  # e.g. ["n = 4", "N = 250"]


def grid_step(step: float | str | Fraction) -> Fraction:
    """A grid step as an exact rational ('0.025' stays 1/40; a float goes through str)."""
    return step if isinstance(step, Fraction) else Fraction(str(step))


def _sums(mean: Printed, n: int, g: Fraction) -> range:
    """Integer sums S with g S / n inside the printed mean's interval."""
    return range(math.ceil(mean.low * n / g), math.floor(mean.high * n / g) + 1)


def grim(mean: Printed, n: int, step: float | str | Fraction, search: range | None = None
         ) -> Finding:
    """Is the printed mean of ``n`` values on a grid of ``step`` possible?"""
    g = grid_step(step)
    if g / n <= 2 * mean.half_ulp:
        return Finding("GRIM", UNINFORMATIVE,
                       f"step {g} / n {n} = {float(g / n):.6g} is no coarser than the "
                       f"printed precision ({float(2 * mean.half_ulp):g}): every mean is "
                       "possible")
    sums = _sums(mean, n, g)
    if sums:
        s = sums[0]
        return Finding("GRIM", CONSISTENT,
                       f"{n} values on steps of {g}: sum {s} x {g} / {n} = "
                       f"{float(s * g / n):.6g}, printed {mean.text}")
    nearest = round(mean.value * n / g)
    near = ", ".join(f"{float(k * g / n):.6g}" for k in (nearest - 1, nearest, nearest + 1))
    candidates = search or range(1, max(4 * n, 20) + 1)
    passing = [f"n = {m}" for m in candidates if _sums(mean, m, g)]
    return Finding("GRIM", INCONSISTENT,
                   f"{n} values on steps of {g} give means ... {near} ...; none rounds to "
                   f"{mean.text}", passing[:8])


def grim_any_count(mean: Printed, n: int, percent_of: Iterable[int]) -> list[str]:
    """Evaluation-set sizes N (an accuracy in % over N examples: steps of 100 / N) with
    which the printed mean of ``n`` runs is possible."""
    return [f"N = {size}" for size in percent_of if _sums(mean, n, Fraction(100, size))]


# How a printed spread can relate to the variance of the n values, as a factor on the
# squared spread, and the divisor of the sum of squared deviations it implies
READINGS = {
    "sample SD": lambda n: (Fraction(1), n - 1),  # n - 1 in the denominator
    "population SD": lambda n: (Fraction(1), n),  # numpy's default
    "standard error": lambda n: (Fraction(n), n - 1),  # SD / sqrt(n)
}


def grimmer(mean: Printed, sd: Printed, n: int, step: float | str | Fraction,
            readings: tuple[str, ...] = tuple(READINGS), suggest: bool = True,
            low: float | None = None, high: float | None = None) -> Finding:
    """Is the printed spread possible with the printed mean under some reading of it
    (``readings``: a sample SD, a population SD, a standard error)? Inconsistent only when
    every reading fails; the finding names the readings that pass. ``low``, ``high``: the
    metric's bounds, which the values found must keep. ``suggest``: on failure, also
    search the counts n that would pass."""
    g = grid_step(step)
    bounds = (None if low is None else math.ceil(Fraction(str(low)) / g),
              None if high is None else math.floor(Fraction(str(high)) / g))
    if n < 2:
        return Finding("GRIMMER", UNINFORMATIVE, "n < 2: no spread across runs")
    sums = _sums(mean, n, g)
    if not sums:
        return Finding("GRIMMER", UNINFORMATIVE, "the mean itself is impossible (GRIM)")
    passing, failing = [], []
    for reading in readings:
        found = _sum_of_squares(sums, n, g, sd, *READINGS[reading](n), bounds)
        (passing if found else failing).append((reading, found))
    if passing:
        reading, (s, q, values) = passing[0]
        scale, divisor = READINGS[reading](n)
        spread = g * math.sqrt((q - Fraction(s * s, n)) / divisor / scale)
        also = [r for r, _ in passing[1:]]
        witness = (f"the values {', '.join(f'{float(v * g):g}' for v in values)}"
                   if values else "(the search for values ran out of budget: only the "
                   "necessary conditions were checked)")
        return Finding("GRIMMER", CONSISTENT,
                       f"as a {reading}: sum {s}, sum of squares {q} (steps of {g}, n {n}), "
                       f"{witness}, give {spread:.6g}, printed {sd.text}"
                       + (f"; also possible as a {', '.join(also)}" if also else "")
                       + (f"; impossible as a {' or a '.join(r for r, _ in failing)}"
                          if failing else ""))
    more = [f"n = {m}" for m in range(2, max(4 * n, 20) + 1) if suggest and m != n
            and grimmer(mean, sd, m, g, readings, False, low, high).outcome == CONSISTENT]
    return Finding("GRIMMER", INCONSISTENT,
                   f"mean {mean.text} and spread {sd.text} of {n} values on steps of {g}: no "
                   f"{n} values on that grid give it as a "
                   f"{' or a '.join(r for r, _ in failing)} (searched: every sum of squares "
                   f"of the sum's parity in range, for {n} integers that have it)", more[:8])


SEARCH_BUDGET = 200_000  # nodes of the integer search per reading, then necessary only


def _sum_of_squares(sums: range, n: int, g: Fraction, sd: Printed, scale: Fraction,
                    divisor: int, bounds: tuple[int | None, int | None] = (None, None)
                    ) -> tuple[int, int, tuple[int, ...] | None] | None:
    """(sum, sum of squares, integers that have them) of values in steps of g whose
    spread, read with this scale and divisor, rounds to the printed one; None when there
    is none. The integers are None when the search ran out of budget on a candidate that
    meets the necessary conditions (then it is taken as possible)."""
    lo_var = max(sd.low, Fraction(0)) ** 2 * scale / g**2
    hi_var = sd.high**2 * scale / g**2
    budget = [SEARCH_BUDGET]
    unsettled = None
    for s in sums:
        q_lo = max(Fraction(s * s, n) + divisor * lo_var, Fraction(s * s, n))
        q_hi = Fraction(s * s, n) + divisor * hi_var
        first = math.ceil(q_lo)
        if (first - s) % 2:  # Q and S share their parity: y^2 and y are both odd or even
            first += 1
        for q in range(first, math.floor(q_hi) + 1, 2):
            if budget[0] <= 0:
                return unsettled or (s, q, None)
            least = -(10**18) if bounds[0] is None else bounds[0]
            values = _integers(n, s, q, least, budget, bounds[1])
            if values:
                return s, q, values
            if budget[0] <= 0 and unsettled is None:
                unsettled = (s, q, None)
    return unsettled


def _integers(k: int, total: int, squares: int, least: int, budget: list[int],
              most: int | None = None) -> tuple[int, ...] | None:
    """``k`` integers in ``[least, most]``, in non-decreasing order, with this sum and
    sum of squares; None when there are none (or ``budget``, a node count, ran out)."""
    budget[0] -= 1
    if budget[0] < 0 or (most is not None and total > k * most):
        return None
    if k == 1:
        return (total,) if total * total == squares and total >= least else None
    spread = (k - 1) * (k * squares - total * total)  # k x^2 - 2 T x + T^2 - (k-1) R <= 0
    if spread < 0:
        return None
    root = math.isqrt(spread)
    if k == 2:
        if root * root != spread or (total - root) % 2:
            return None
        a = (total - root) // 2
        return (a, total - a) if a >= least and (most is None or total - a <= most) else None
    # the smallest of k values is at most their mean and leaves the rest feasible
    lowest = max(least, (total - root - 1) // k)  # (T - sqrt(spread)) / k, rounded down
    for x in range(lowest, total // k + 1):
        rest = _integers(k - 1, total - x, squares - x * x, x, budget, most)
        if rest:
            return (x, *rest)
        if budget[0] < 0:
            return None
    return None


def bounded_sd(mean: Printed, sd: Printed, n: int, low: float, high: float) -> Finding:
    """Can values in [low, high] whose mean rounds to the printed one have a sample SD
    that rounds to the printed one? The widest spread lies at the mean nearest the middle."""
    lo, hi = Fraction(str(low)), Fraction(str(high))
    if n < 2:
        return Finding("range", UNINFORMATIVE, "n < 2: no sample SD")
    middle = (lo + hi) / 2
    m = min(max(middle, mean.low, lo), mean.high, hi)
    largest_var = (m - lo) * (hi - m) * Fraction(n, n - 1)
    outcome = CONSISTENT if max(sd.low, Fraction(0)) ** 2 <= largest_var else INCONSISTENT
    return Finding("range", outcome,
                   f"values in [{low:g}, {high:g}] with mean {mean.text}, n {n}: SD at most "
                   f"sqrt(({float(m - lo):g}) x ({float(hi - m):g}) x {n} / {n - 1}) = "
                   f"{math.sqrt(largest_var):.4g}; printed {sd.text}")


def in_range(value: Printed, low: float | None, high: float | None, what: str) -> Finding:
    """Is a printed value inside [low, high] (either may be open)?"""
    below = low is not None and value.high < Fraction(str(low))
    above = high is not None and value.low > Fraction(str(high))
    bounds = f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
    return Finding("range", INCONSISTENT if below or above else CONSISTENT,
                   f"{what} {value.text} {'outside' if below or above else 'inside'} {bounds}")
