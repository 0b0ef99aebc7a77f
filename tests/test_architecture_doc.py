"""docs/architecture.md names modules: each one it names exists, and each module of
harness/ is named there, so the map and the house do not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "harness"
DOC = REPO / "docs" / "architecture.md"
TEXT = DOC.read_text(encoding="utf-8")
NAMED = set(re.findall(r"`(?:harness/)?((?:[a-z_]+/)?[a-z_]+\.py)`", TEXT))
SUITE_FILES = {"task.py"}  # a suite folder's, not harness's


def test_every_module_the_map_names_exists():
    missing = sorted(n for n in NAMED - SUITE_FILES
                     if not (REPO / n if n.startswith("tests/") else HARNESS / n).is_file())
    assert not missing, f"docs/architecture.md names modules harness/ lacks: {missing}"


def test_every_module_of_harness_is_on_the_map():
    modules = {p.relative_to(HARNESS).as_posix() for p in HARNESS.rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py")}
    unnamed = sorted(modules - NAMED)
    assert not unnamed, f"harness modules docs/architecture.md does not name: {unnamed}"


def test_every_package_of_harness_is_on_the_map():
    packages = {p.parent.relative_to(HARNESS).as_posix() for p in HARNESS.glob("*/__init__.py")}
    unnamed = sorted(p for p in packages if f"`{p}/`" not in TEXT)
    assert not unnamed, f"harness packages docs/architecture.md does not name: {unnamed}"
