"""Where batch submissions are recorded: two tables in the run's own ``judgments.sqlite``.

A submission is committed *before* anything is uploaded (its id and its requests' custom_ids, state
``submitting``), its batch id right after the server created the batch (state ``submitted``).  A process killed
between the two finds the batch again by the submission id it sent as batch metadata, so a request is never put
in two batches; a process killed later polls the same batch.
"""
from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_batches (
  submission TEXT PRIMARY KEY, batch_id TEXT, state TEXT NOT NULL, n INTEGER, created REAL
);
CREATE TABLE IF NOT EXISTS api_batch_requests (
  custom_id TEXT PRIMARY KEY, submission TEXT NOT NULL
);
"""


class BatchJobs:
    """``BatchJobs(path)`` — the run store's batch tables (``path=None``: in memory, no resume)."""

    def __init__(self, path: Path | None) -> None:
        self.con = sqlite3.connect(str(path) if path else ":memory:", timeout=60, isolation_level=None,
                                   check_same_thread=False)
        if path:
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA busy_timeout=60000")
        self.con.executescript(SCHEMA)

    def known(self, custom_ids: Sequence[str]) -> dict[str, str]:
        """custom_id → submission, for the ids already put in a submission."""
        out: dict[str, str] = {}
        for i in range(0, len(custom_ids), 500):
            chunk = list(custom_ids[i:i + 500])
            marks = ",".join("?" * len(chunk))
            q = f"SELECT custom_id, submission FROM api_batch_requests WHERE custom_id IN ({marks})"
            out.update(self.con.execute(q, chunk).fetchall())
        return out

    def begin(self, custom_ids: Sequence[str]) -> str:
        """Record a new submission of these requests (one transaction) and return its id."""
        sub = uuid.uuid4().hex
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute("INSERT INTO api_batches VALUES (?,?,?,?,?)", (sub, None, "submitting", len(custom_ids),
                                                                             time.time()))
            self.con.executemany("INSERT OR REPLACE INTO api_batch_requests VALUES (?,?)",
                                 [(c, sub) for c in custom_ids])
        return sub

    def submitted(self, sub: str, batch_id: str) -> None:
        self.con.execute("UPDATE api_batches SET batch_id=?, state='submitted' WHERE submission=?", (batch_id, sub))

    def batch_id(self, sub: str) -> str | None:
        row = self.con.execute("SELECT batch_id FROM api_batches WHERE submission=?", (sub,)).fetchone()
        return row[0] if row else None

    def all(self) -> list[tuple[str, str | None, str, int]]:
        return self.con.execute("SELECT submission, batch_id, state, n FROM api_batches ORDER BY created").fetchall()

    def close(self) -> None:
        self.con.close()
