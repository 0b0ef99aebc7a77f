"""Errors a user can act on: each names the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path


class SparsebenchError(Exception):
    """A problem with the user's input or environment; the CLI prints it on one line, exit 2."""


class SpecError(SparsebenchError):
    """A suite or claims file that does not validate."""

    def __init__(self, file: Path | str, key: str, message: str):
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + message)


class StoreError(SparsebenchError):
    """The result store cannot be opened or is damaged."""
