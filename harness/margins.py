"""The default margin rule: how close a reproduced number must be to a reported one.

A reproduced mean matches a reported number when their difference lies within 5 % of
the reported value's magnitude, or within half a unit in the last digit the write-up
printed if that is larger (a number printed as "0.0" cannot be matched more closely than
±0.05). A table column or claim that needs another margin sets ``margin`` with a
``margin_reason``, and the report shows the reason beside the verdict.
"""

from __future__ import annotations

import re

from .stats import Reported

RELATIVE = 0.05
RULE = ("5 % of the reported value, or half a unit in its last printed digit if larger "
        "(the default rule)")
_MEAN = re.compile(r"[+-]?[\d,]*\.?(\d*)(?:[eE]([+-]?\d+))?")


def resolution(text: str) -> float:
    """Half a unit in the last printed digit of the first number in ``text``:
    "86.50 ± 0.32" -> 0.005, "2,236" -> 0.5, "1.5e-3" -> 5e-5."""
    cleaned = text.strip().replace("\u2212", "-")
    m = _MEAN.match(cleaned)
    decimals = len(m.group(1)) if m else 0
    exponent = int(m.group(2)) if m and m.group(2) else 0
    return 0.5 * 10.0 ** (exponent - decimals)


def default_margin(reported: Reported) -> float:
    """The rule's margin for one reported number."""
    return max(RELATIVE * abs(reported.mean), resolution(reported.text))


def margin_for(reported: Reported, margin: float | None, reason: str) -> tuple[float, str]:
    """The margin a verdict uses and the words that say where it comes from."""
    if margin is not None:
        return margin, reason
    return default_margin(reported), RULE
