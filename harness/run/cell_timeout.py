"""A time limit per cell (``--cell-timeout SECONDS``): a task that runs longer is stopped
and its cell stored as failed, so one hanging cell cannot hang a tier.

The limit is the process's: an executor sets it around the jobs it runs (``limit``), and
``harness.run.execute`` arms a ``SIGALRM`` timer around each task call (``alarm``), whose
handler raises ``CellTimeout`` inside the task. Signals reach only the main thread, so a
task run from another thread runs without a limit. A task stuck in one long C call
(a kernel) is stopped when it next returns to Python.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_limit: float | None = None  # seconds per cell in this process; None: no limit


class CellTimeout(BaseException):
    """Raised inside a task that ran past the limit. A BaseException, so that a task's
    own ``except Exception`` cannot swallow it."""


def current() -> float | None:
    """The per-cell limit in force in this process (None: none)."""
    return _limit


@contextmanager
def limit(seconds: float | None) -> Iterator[None]:
    """Cells run in this process while inside get at most ``seconds`` each."""
    global _limit
    before, _limit = _limit, seconds
    try:
        yield
    finally:
        _limit = before


def reason(seconds: float) -> str:
    """A timed-out cell's stored error."""
    return f"ran past --cell-timeout {seconds:g} s"


@contextmanager
def alarm(seconds: float | None) -> Iterator[None]:
    """Raise CellTimeout in this (main) thread once ``seconds`` have passed inside."""
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    armed = True

    def ring(signum, frame) -> None:
        if armed:  # a signal that lands after the task returned changes nothing
            raise CellTimeout(reason(seconds))

    previous = signal.signal(signal.SIGALRM, ring)
    started = time.monotonic()
    # It rings again each second (at most) after the first: a task that swallows the
    # first CellTimeout (a bare except) is stopped all the same.
    outer, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds, min(seconds, 1.0))
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # a timer someone else armed (pytest-timeout's): its time goes on
            left = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)
