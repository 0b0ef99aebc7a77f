"""Keep large CPU tensors in the heap, where freeing and allocating them again is cheap.

glibc's malloc serves an allocation above its mmap threshold (128 KiB at first, raised
as large blocks are freed, at most 32 MiB) with a fresh mmap, and returns it to the
kernel when freed. A training step that frees and reallocates the same large gradient
every time (``zero_grad(set_to_none=True)``) then page-faults the whole block in again,
4 KiB at a time: about 1,400 faults per step for the 6.5 M-parameter MLP of
sae_mnist_logits' sweep, over 5 % of its step (benchmarks/bench_allocator.py). Raising
the mmap threshold to its maximum and never trimming the heap keeps such blocks mapped.
Where the data lives never changes the arithmetic: the numbers are the same bits
(torch aligns every CPU allocation to 64 bytes either way).

Only glibc (Linux) has ``mallopt``; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD_MAX = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)  # 32 MiB on 64-bit
_applied: list[bool] = []


def keep_large_blocks() -> bool:
    """Apply the setting once per process (a no-op after the first call, and where there
    is no glibc or SPARSEBENCH_MALLOC=default); returns whether it is in effect."""
    if _applied:
        return _applied[0]
    ok = False
    if os.environ.get("SPARSEBENCH_MALLOC", "") != "default":
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None:
            ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and \
                bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))
    _applied.append(ok)
    return ok
