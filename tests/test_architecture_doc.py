"""docs/architecture.md names modules: each one it names exists, and each module of
harness/ is named there, so the map and the house do not drift apart."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
NAMED = set(re.findall(r"`(?:harness/)?((?:cli/)?[a-z_]+\.py)`", DOC.read_text(encoding="utf-8")))
SUITE_FILES = {"task.py"}  # a suite folder's, not harness's


def test_every_module_the_map_names_exists():
    missing = sorted(n for n in NAMED - SUITE_FILES if not (REPO / "harness" / n).is_file())
    assert not missing, f"docs/architecture.md names modules harness/ lacks: {missing}"


def test_every_module_of_harness_is_on_the_map():
    modules = {p.name for p in (REPO / "harness").glob("*.py")}
    modules |= {f"cli/{p.name}" for p in (REPO / "harness" / "cli").glob("*.py")
                if p.name not in ("__init__.py", "__main__.py")}
    unnamed = sorted(modules - NAMED)
    assert not unnamed, f"harness modules docs/architecture.md does not name: {unnamed}"
