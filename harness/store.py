"""The result store: one SQLite file; each finished cell is one transaction.

Cells are written only when they end (done or failed), so a killed process loses
at most the cells it was running. pandas reads the metrics table in long form.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import StoreError

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    id TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    stage TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error TEXT,
    wall_s REAL,
    finished_at TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    cell_id TEXT NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    idx INTEGER NOT NULL,          -- -1 for a scalar, else the position in a vector/curve
    value REAL,
    PRIMARY KEY (cell_id, name, idx)
);
"""


@dataclass
class CellRecord:
    id: str
    suite: str
    stage: str
    params: dict
    status: str
    error: str | None
    wall_s: float | None
    finished_at: str
    fingerprint: dict
    metrics: dict  # name -> float | list[float]


class Store:
    """The store at ``path``. ``readonly=True`` opens an existing store for reading only:
    a missing file is an error rather than a new, empty store (``report`` must not make
    one), and nothing is written, not even the schema."""

    def __init__(self, path: Path | str, readonly: bool = False):
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise StoreError(f"{self.path}: no such store")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if readonly:
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                          timeout=30, isolation_level=None)
                version = self._schema_version()
            else:
                self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.execute("PRAGMA foreign_keys=ON")
                self.db.executescript(SCHEMA)
                version = self._schema_version()
                if version is None:
                    self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                    version = SCHEMA_VERSION
            if version != SCHEMA_VERSION:
                raise StoreError(f"{self.path}: store schema {version}, this sparsebench "
                                 f"reads {SCHEMA_VERSION}; use a new --store path")
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"{self.path}: not a readable sparsebench store ({err}). Move it aside and "
                f"rerun to start a new store, or recover with: sqlite3 {self.path} '.recover'"
            ) from None

    def _schema_version(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- writing

    def put(self, record: CellRecord) -> None:
        """Write one finished cell and its metrics atomically (replacing a previous try)."""
        rows = list(_metric_rows(record.id, record.metrics))
        with self.db:  # one transaction
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM cells WHERE id = ?", (record.id,))
            self.db.execute(
                "INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.suite, record.stage, json.dumps(record.params, sort_keys=True),
                 record.status, record.error, record.wall_s, record.finished_at,
                 json.dumps(record.fingerprint, sort_keys=True)),
            )
            self.db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", rows)

    def delete(self, ids: Iterable[str]) -> int:
        """Remove these cells and their metrics in one transaction; returns how many."""
        ids = list(ids)
        removed = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                removed += self.db.execute(
                    f"DELETE FROM cells WHERE id IN ({marks})", chunk).rowcount
        return removed

    # -------------------------------------------------------------- reading

    def suite_cells(self, suite: str) -> list[tuple[str, str, dict]]:
        """(id, stage, params) of every cell stored for ``suite``, stale ones included."""
        rows = self.db.execute("SELECT id, stage, params FROM cells WHERE suite = ? ORDER BY id",
                               (suite,)).fetchall()
        return [(cid, stage, json.loads(params)) for cid, stage, params in rows]

    def statuses(self, ids: Iterable[str]) -> dict[str, str]:
        ids = list(ids)
        out: dict[str, str] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            out.update(self.db.execute(
                f"SELECT id, status FROM cells WHERE id IN ({marks})", chunk).fetchall())
        return out

    def get(self, cell_id: str) -> CellRecord | None:
        records = self.records([cell_id])
        return records[0] if records else None

    def records(self, ids: Iterable[str]) -> list[CellRecord]:
        """Records for the given ids that exist, in the order given."""
        ids = list(ids)
        found: dict[str, CellRecord] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT * FROM cells WHERE id IN ({marks})", chunk):
                found[row[0]] = CellRecord(row[0], row[1], row[2], json.loads(row[3]), row[4],
                                           row[5], row[6], row[7], json.loads(row[8]), {})
            metric_rows = self.db.execute(
                f"SELECT cell_id, name, idx, value FROM metrics WHERE cell_id IN ({marks}) "
                "ORDER BY cell_id, name, idx", chunk).fetchall()
            for cid, name, idx, value in metric_rows:
                value = math.nan if value is None else value
                metrics = found[cid].metrics
                if idx < 0:
                    metrics[name] = value
                else:
                    metrics.setdefault(name, []).append(value)
        return [found[i] for i in ids if i in found]

    def metrics_frame(self, ids: Iterable[str]) -> pd.DataFrame:
        """The metrics table's rows for the given cells, as stored: columns cell_id, name,
        idx (-1 for a scalar, else the position in a vector, curve or image) and value
        (NaN where the metric was NaN); a failed cell has no rows. For one table with
        parameters, status, errors, tuning trials and environment, see ``harness.export``
        (``sparsebench export``)."""
        ids = list(ids)
        frames = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            frames.append(pd.read_sql_query(
                f"SELECT * FROM metrics WHERE cell_id IN ({marks})", self.db, params=chunk))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _metric_rows(cell_id: str, metrics: dict):
    for name, value in metrics.items():
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                yield cell_id, name, i, _real(v)
        else:
            yield cell_id, name, -1, _real(value)


def _real(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]
