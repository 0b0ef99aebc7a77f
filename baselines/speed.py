"""Speed options a tier can turn on: bf16 autocast and torch.compile.

Both change the arithmetic, so the numbers differ from the fp32 eager run (which is what
CI stores); they are off by default and recorded with the cell's parameters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "bf16")


def check_speed_params(params: dict) -> tuple[str, bool]:
    """(precision, compile) from a cell's parameters, with a clear error for bad values."""
    precision = str(params.get("precision", "fp32"))
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; expected one of {PRECISIONS}")
    compile_ = params.get("compile", False)
    if not isinstance(compile_, bool):
        raise ValueError(f"compile must be true or false, not {compile_!r}")
    return precision, compile_


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """bf16 autocast on ``device`` when ``precision`` is "bf16"; nothing otherwise."""
    if precision == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    else:
        yield

