"""``sparsebench new``: a new suite folder that loads and runs at once (suite.toml,
claims.toml, task.py from the templates in harness/newsuite/templates/), to be edited into a
write-up's reproduction (docs/writing-a-suite.md)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import SparsebenchError

TEMPLATES = Path(__file__).with_name("templates")
FILES = ("suite.toml", "claims.toml", "task.py")


def check_folder(folder: Path) -> None:
    """A new suite's folder: named as a Python identifier, and new or empty (nothing of
    someone's is overwritten)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", folder.name):
        raise SparsebenchError(f"{folder}: a suite folder's name must be a Python identifier "
                               "(letters, digits, _), e.g. my_suite")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        what = "exists and is not empty" if folder.is_dir() else "is a file"
        raise SparsebenchError(f"{folder}: {what}; choose a new folder")


def create(folder: Path, writeup: str | None = None) -> list[Path]:
    """Write the three files into ``folder`` (which must not exist or be empty)."""
    check_folder(folder)
    name = folder.name
    folder.mkdir(parents=True, exist_ok=True)
    values = {"name": name, "title": name.replace("_", " ").capitalize(),
              "writeup": writeup or f"{name}.txt", "folder": str(folder)}
    out = []
    for file in FILES:
        path = folder / file
        path.write_text((TEMPLATES / f"{file}.tmpl").read_text(encoding="utf-8")
                        .format(**values), encoding="utf-8")
        out.append(path)
    return out
