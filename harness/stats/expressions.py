"""A tiny, safe arithmetic language for claims about the write-up's own numbers.

``internal`` claims compare two expressions such as
``mean(rep('sparsity', '1', 'dsb_mean'), rep('sparsity', '2', 'dsb_mean'))``.
``rep(table, row, column)`` is the reported mean of one cell of a write-up table,
``spread(...)`` its +/-. Only numbers, + - * / **, unary minus, and the functions
below are allowed: nothing else of Python is reachable.
"""

from __future__ import annotations

import ast
import statistics
from collections.abc import Callable

Lookup = Callable[[str, str, str], tuple[float, float | None]]

FUNCTIONS: dict[str, Callable[..., float]] = {
    "mean": lambda *xs: statistics.fmean(xs),
    "min": min,
    "max": max,
    "abs": abs,
    "sum": lambda *xs: sum(xs),
}
REFERENCES = ("rep", "spread")
BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def _parse(expr: str) -> ast.expr:
    try:
        return ast.parse(expr, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"not an expression: {expr!r} ({err.msg})") from None


def evaluate(expr: str, lookup: Lookup) -> tuple[float, list[str]]:
    """Value of ``expr`` and the references it read, as 'table/row/column = value' strings."""
    cited: list[str] = []
    return _walk(_parse(expr), lookup, cited), cited


def _walk(node: ast.expr, lookup: Lookup, cited: list[str]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _walk(node.operand, lookup, cited)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = _walk(node.left, lookup, cited), _walk(node.right, lookup, cited)
        return BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name in REFERENCES:
            args = node.args
            if len(args) != 3 or not all(
                isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args
            ):
                raise ValueError(f"{name}() takes three strings: table id, row label, column key")
            table, row, col = (a.value for a in args)
            mean, spread = lookup(table, row, col)
            value = mean if name == "rep" else spread
            if value is None:
                raise ValueError(f"{table}/{row}/{col} reports no spread")
            cited.append(f"{table}/{row}/{col}{'' if name == 'rep' else ' +/-'} = {value:g}")
            return value
        if name in FUNCTIONS:
            values = [_walk(a, lookup, cited) for a in node.args]
            if not values:
                raise ValueError(f"{name}() needs at least one argument")
            return float(FUNCTIONS[name](*values))
        raise ValueError(f"unknown function {name!r}; allowed: "
                         f"{', '.join([*REFERENCES, *FUNCTIONS])}")
    raise ValueError(f"not allowed in a claim expression: {ast.unparse(node)!r}")
