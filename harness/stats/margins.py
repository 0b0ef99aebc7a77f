"""The default margin rule: how close a reproduced number must be to a reported one,
by what the number is (docs/verdicts.md, "Margins"):

* a setting the write-up chose (``of = "target"``): half a unit in its last printed
  digit (a chosen target is exact; only its printing rounds it);
* a metric with ``bounds`` (an accuracy, a share): 5 % of the reported value's distance
  to the nearer bound (97 % accuracy: ±0.15 pp, 5 % of its error rate);
* any other number: 5 % of its magnitude;

never less than half a unit in the last printed digit (a number printed "0.0" cannot be
matched more closely than ±0.05). A table column or claim that needs another margin sets
``margin`` with a ``margin_reason``, and the report shows the reason beside the verdict.
"""

from __future__ import annotations

import re

from .core import SCALE, Reported

RELATIVE = 0.05
RULE = ("5 % of the reported value (of its distance to the nearer bound, for a metric with "
        "bounds), or half a unit in its last printed digit if larger (the default rule)")
RULE_BOUNDED = ("5 % of the reported value's distance to the nearer bound {bound:g}, or half "
                "a unit in its last printed digit if larger (the default rule for a bounded "
                "metric)")
RULE_PLAIN = ("5 % of the reported value, or half a unit in its last printed digit if "
              "larger (the default rule)")
RULE_TARGET = ("half a unit in the last printed digit: the number is a setting the "
               "write-up chose (the default rule for a setting)")
_MEAN = re.compile(r"[+-]?[\d,]*\.?(\d*)(?:[eE]([+-]?\d+))?([kKMGB])?")


def resolution(text: str) -> float:
    """Half a unit in the last printed digit of the first number in ``text``:
    "86.50 ± 0.32" -> 0.005, "2,236" -> 0.5, "1.5e-3" -> 5e-5, "267K" -> 500."""
    cleaned = text.strip().replace("\u2212", "-")
    m = _MEAN.match(cleaned)
    decimals = len(m.group(1)) if m else 0
    exponent = int(m.group(2)) if m and m.group(2) else 0
    exponent += SCALE[m.group(3)] if m and m.group(3) else 0
    return 0.5 * 10.0 ** (exponent - decimals)


def default_margin(reported: Reported, bounds: tuple[float, float] | None = None,
                   target: bool = False) -> tuple[float, str]:
    """The rule's margin for one reported number, and the rule's words."""
    half_unit = resolution(reported.text)
    if target:
        return half_unit, RULE_TARGET
    if bounds is not None:
        bound = min(bounds, key=lambda b: abs(reported.mean - b))
        return (max(RELATIVE * abs(reported.mean - bound), half_unit),
                RULE_BOUNDED.format(bound=bound))
    return max(RELATIVE * abs(reported.mean), half_unit), RULE_PLAIN


def margin_for(reported: Reported, margin: float | None, reason: str,
               bounds: tuple[float, float] | None = None, target: bool = False
               ) -> tuple[float, str]:
    """The margin a verdict uses and the words that say where it comes from."""
    if margin is not None:
        return margin, reason
    return default_margin(reported, bounds, target)
