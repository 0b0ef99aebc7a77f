"""Parameter types in suite.toml: an override has its default's type, a factor one type.

TOML values carry their type, so ``epochs = "2"`` where ``[params]`` says ``epochs = 50``
is a typo that would reach the task as a string and fail late, or compute something else
without a word. The rules, checked on load:

* A value that overrides a ``[params]`` key (``tiers.<t>.params``, ``[[grid]]`` ``params``
  and ``factors``, ``tuning.params``, ``tiers.<t>.tuning.params``) has the default's type:
  a boolean for a boolean, an integer for an integer (a boolean is not one), a float or an
  integer for a float, a string for a string.
* The values of one factor, across the main grid, every ``[[grid]]`` and every tier, are
  all numbers (integers and floats may mix), all strings or all booleans: a factor such
  as ``[64, "128"]`` is almost surely a typo.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from .schemas import Scalar, SuiteSpec

_ONE_TYPE = "a factor's values are all numbers, all strings or all booleans"


def describe(value: Scalar) -> str:
    """'an integer (50)', "a string ('2')": how an error names a value."""
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, int):
        kind = "an integer"
    elif isinstance(value, float):
        kind = "a float"
    elif isinstance(value, str):
        kind = "a string"
    else:
        kind = f"a {type(value).__name__}"
    return f"{kind} ({value!r})"


def fits(value: Scalar, default: Scalar) -> bool:
    """Whether ``value`` may stand where ``[params]`` has ``default``."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return type(value) is type(default)


def _family(value: Scalar) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__


def check_param_types(path: Path, spec: SuiteSpec) -> None:
    """Raise one SpecError naming every value whose type breaks the rules above (joined
    with '; ', so that it stays one line), so that a user fixes them in one pass."""
    problems = _override_problems(spec) + _factor_problems(spec)
    if len(problems) == 1:
        raise SpecError(path, *problems[0])
    if problems:
        raise SpecError(path, "", "; ".join(f"{key}: {message}" for key, message in problems))


def _override_problems(spec: SuiteSpec) -> list[tuple[str, str]]:
    """(key, message) of every override whose type differs from its [params] default."""
    overrides: list[tuple[str, dict[str, Scalar]]] = [
        (f"tiers.{name}.params", tier.params) for name, tier in spec.tiers.items()]
    overrides += [(f"grid[{i}].params", g.params) for i, g in enumerate(spec.grid)]
    if spec.tuning:
        overrides.append(("tuning.params", spec.tuning.params))
    if spec.scale:
        overrides.append(("scale.params", spec.scale.params))
        overrides += [(f"scale.grids.{g}.params", s.params) for g, s in spec.scale.grids.items()]
    overrides += [(f"tiers.{name}.tuning.params", tier.tuning.params)
                  for name, tier in spec.tiers.items() if tier.tuning]
    found = [(f"{key}.{name}", name, value) for key, values in overrides
             for name, value in values.items()]
    found += [(f"grid[{i}].factors.{name}[{j}]", name, value) for i, grid in enumerate(spec.grid)
              for name, values in grid.factors.items() for j, value in enumerate(values)]
    return [(key, f"is {describe(value)}; [params].{name} is {describe(spec.params[name])}")
            for key, name, value in found
            if name in spec.params and not fits(value, spec.params[name])]


def _factor_problems(spec: SuiteSpec) -> list[tuple[str, str]]:
    """(key, message) of every factor value of another family than the factor's first."""
    places: list[tuple[str, dict[str, list[Scalar]]]] = [("factors", spec.factors)]
    places += [(f"grid[{i}].factors", g.factors) for i, g in enumerate(spec.grid)]
    places += [(f"tiers.{name}.factors", t.factors) for name, t in spec.tiers.items()]
    first: dict[str, tuple[str, Scalar]] = {}
    problems = []
    for where, factors in places:
        for name, values in factors.items():
            for j, value in enumerate(values):
                key = f"{where}.{name}[{j}]"
                seen_key, seen = first.setdefault(name, (key, value))
                if _family(value) != _family(seen):
                    problems.append((key, f"is {describe(value)} but {seen_key} is "
                                          f"{describe(seen)}; {_ONE_TYPE}"))
    return problems
