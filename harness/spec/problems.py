"""Several problems of a suite's files reported at once.

Kept out of errors.py on purpose: a task's code digest (harness/spec/identity.py) covers
errors.py, so the classes every task may import stay put while this grows.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError

# How the CLI begins each error line (harness/cli.py prints it before str(error)).
ERROR_PREFIX = "sparsebench: error: "


def problems_of(err: SpecError) -> list[tuple[str, str, str]]:
    """Each problem of an error as (file, key, message)."""
    if isinstance(err, SpecErrors):
        return list(err._problems)
    return [(err.file, err.key, err.message)]


class SpecErrors(SpecError):
    """Every problem found in one or more files, so a user fixes them in one pass.

    The CLI prints ``sparsebench: error: `` and a SpecError's text; this one's text puts
    the same prefix before each further problem, so each is a line that reads alone:
    ``sparsebench: error: <file>: <key>: <message>``. Its file, key and message are the
    first problem's."""

    def __init__(self, problems: list[tuple[str | Path, str, str]]):
        if not problems:
            raise ValueError("SpecErrors needs at least one problem")
        self._problems = [(str(file), key, message) for file, key, message in problems]
        super().__init__(*self._problems[0])
        self.args = (f"\n{ERROR_PREFIX}".join(_line(*p) for p in self._problems),)

    @property
    def problems(self) -> list[tuple[str, str, str]]:
        return list(self._problems)

    def __reduce__(self):  # pickles (a worker's error) by its problems, not its text
        return SpecErrors, (self._problems,)


def _line(file: str, key: str, message: str) -> str:
    return f"{file}: {key}: {message}" if key else f"{file}: {message}"
