"""No claim lost in the rewrite of the claims files on the typed kinds (issue 14): every
claim id of the old files (tests/claim_homes/<suite>.toml, one line per old id) has a
home in today's file: a claim, a table column whose verdicts now ask its question, or a
column whose derived cells the write-up checks recompute (write_up_checks.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.spec.suite import load_suite

HOMES = Path(__file__).parent / "claim_homes"
SUITES = sorted(p.stem for p in HOMES.glob("*.toml"))
OLD_TOTALS = {"adaptive_sparse_attention": 79, "dsb_mnist1d": 19, "sae_mnist_logits": 51,
              "sae_tutorial": 45, "sparling": 32}  # claims in each file before the rewrite


def test_every_shipped_suite_has_its_homes():
    assert sorted(OLD_TOTALS) == SUITES


@pytest.mark.parametrize("name", SUITES)
def test_every_old_claim_has_a_home(name: str):
    homes = tomllib.loads((HOMES / f"{name}.toml").read_text(encoding="utf-8"))
    assert len(homes) == OLD_TOTALS[name], "one line per claim of the old file"
    claims = load_suite(name).claims
    ids = {c.id for c in claims.claim}
    columns = {f"{t.id}/{c.key}" for t in claims.table for c in t.columns}
    # "check:<table>/<column>": the write-up checks recompute that column's derived cells
    derived = {f"{t.id}/{c.key}" for t in claims.table for c in t.columns
               if any(c.key in r.derived for r in t.row)}
    for old, home in homes.items():
        kind, _, target = home.partition(":")
        assert kind in ("claim", "column", "check"), f"{old}: {home}"
        known = {"claim": ids, "column": columns, "check": derived}[kind]
        assert target in known, f"{old} -> {home}: not found"


@pytest.mark.parametrize("name", SUITES)
def test_a_column_home_checks_what_the_claim_did(name: str):
    """An old claim that became a column's verdicts lives in a column that judges: its
    reported cells get value verdicts or chance tests."""
    homes = tomllib.loads((HOMES / f"{name}.toml").read_text(encoding="utf-8"))
    suite = load_suite(name)
    for old, home in homes.items():
        if not home.startswith("column:"):
            continue
        table_id, key = home.removeprefix("column:").split("/")
        table = next(t for t in suite.claims.table if t.id == table_id)
        col = next(c for c in table.columns if c.key == key)
        chance = col.chance if col.chance is not None else suite.spec.metrics[col.metric].chance
        assert not col.no_verdict or chance is not None, f"{old}: {home} gives no verdict"


def test_the_claims_files_are_at_least_40_percent_shorter():
    lines = sum(len((HOMES.parents[1] / "suites" / n / "claims.toml").read_text(encoding="utf-8")
                    .splitlines()) for n in OLD_TOTALS)
    assert lines <= 0.6 * 3119, lines
