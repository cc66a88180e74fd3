"""Durable SQLite (WAL) run store plus the content-addressed judgment cache shared by all runs."""
from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from .errors import StorageError
from .types import Completion, ItemResult, Judgment, Usage

RUN_DB = "judgments.sqlite"

_RUN_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
  key TEXT PRIMARY KEY, task TEXT NOT NULL, example_id TEXT NOT NULL, slot TEXT, attempt INTEGER,
  status TEXT NOT NULL, verdict TEXT, confidence REAL, text TEXT, meta TEXT,
  prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL, latency_s REAL, retries INTEGER,
  cached INTEGER, truncated INTEGER, error TEXT, created REAL, choice_logprobs TEXT, cache_key TEXT
);
CREATE INDEX IF NOT EXISTS judgments_example ON judgments(task, example_id);
CREATE TABLE IF NOT EXISTS items (
  task TEXT NOT NULL, example_id TEXT NOT NULL, category TEXT, status TEXT, score REAL, verdict TEXT, details TEXT,
  PRIMARY KEY (task, example_id)
);
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT);
"""

_CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache.completions (
  key TEXT PRIMARY KEY, text TEXT, choice_logprobs TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,
  cost_usd REAL, truncated INTEGER, created REAL
);
-- one INSERT per judgment is one atomic transaction that also fills the shared cache
CREATE TEMP TRIGGER IF NOT EXISTS judgment_to_cache AFTER INSERT ON main.judgments
WHEN NEW.cache_key IS NOT NULL BEGIN
  INSERT OR REPLACE INTO completions VALUES (NEW.cache_key, NEW.text, NEW.choice_logprobs, NEW.prompt_tokens,
    NEW.completion_tokens, NEW.cost_usd, NEW.truncated, NEW.created);
END;
"""


def default_cache_path() -> Path:
    root = os.environ.get("JUDGEBENCH_CACHE_DIR")
    if not root:
        import platformdirs
        root = platformdirs.user_cache_dir("judgebench")
    return Path(root) / "judgments-cache.sqlite"


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed row survives kill -9 of the process
    con.execute("PRAGMA busy_timeout=60000")
    return con


def check(con: sqlite3.Connection, schema: str, path: Path) -> None:
    """A quick integrity check of an existing database (milliseconds for a run's store)."""
    res = [r[0] for r in con.execute(f"PRAGMA {schema}.quick_check(3)")]
    if res != ["ok"]:
        raise sqlite3.DatabaseError("; ".join(res))


def is_disk_full(e: BaseException) -> bool:
    return (isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))) or \
        (isinstance(e, sqlite3.Error) and "disk is full" in str(e))


DAMAGED = ("malformed", "not a database", "disk i/o error", "file is not", "corrupt")


def storage_failure(path: Path, e: BaseException) -> StorageError | None:
    """A full disk or a damaged database met while a run writes (None for any other error)."""
    if is_disk_full(e) or (isinstance(e, sqlite3.DatabaseError) and any(w in str(e).lower() for w in DAMAGED)):
        return storage_error(path, e)
    return None


def storage_error(path: Path, e: BaseException, cache: bool = False) -> StorageError:
    """The user-facing error for a failed store operation (one line naming the file)."""
    if is_disk_full(e):
        return StorageError(f"{path}: the disk is full ({e}); everything committed so far is kept: free some space "
                            f"and re-run the same command to resume")
    what = "the shared judgment cache (delete it to start an empty one)" if cache else \
        "the run store (it is left as it is: restore it, or choose another --run-dir)"
    return StorageError(f"{path}: damaged or not a judgebench database ({type(e).__name__}: {e}); {what}")


def _dumps(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False)


def _loads(v: str | None) -> Any:
    return None if v is None else json.loads(v)


class RunStore:
    """One run's judgments (``<run_dir>/judgments.sqlite``) with the global cache attached.

    Every judgment is committed in its own transaction together with its cache entry, so a
    killed process loses at most the requests that were in flight, never a committed answer.
    """

    def __init__(self, run_dir: Path, cache_path: Path | None = None) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / RUN_DB
        if self.path.exists() and self.path.stat().st_size == 0 and (run_dir / "manifest.json").exists():
            raise StorageError(f"{self.path}: the run store is empty (0 bytes) although the run has started; it is "
                               f"left as it is (not re-judged): restore it, or choose another --run-dir")
        existed = self.path.exists() and self.path.stat().st_size > 0
        self.con = None
        try:
            self.con = _connect(self.path)
            if existed:
                check(self.con, "main", self.path)
            self.con.executescript(_RUN_SCHEMA)
        except sqlite3.DatabaseError as e:
            if self.con is not None:
                self.con.close()
            raise storage_error(self.path, e) from None
        self.cache_enabled = cache_path is not None
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                _connect(cache_path).close()  # create the file in WAL mode
                self.con.execute("ATTACH DATABASE ? AS cache", (str(cache_path),))
                self.con.execute("PRAGMA cache.synchronous=NORMAL")
                self.con.executescript(_CACHE_SCHEMA)
            except sqlite3.DatabaseError as e:
                raise storage_error(cache_path, e, cache=True) from None

    # -- key/value facts about the run ---------------------------------------------------------------
    def get(self, k: str, default: Any = None) -> Any:
        row = self.con.execute("SELECT v FROM kv WHERE k=?", (k,)).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, k: str, v: Any) -> None:
        self.con.execute("INSERT OR REPLACE INTO kv VALUES (?,?)", (k, json.dumps(v)))

    # -- judgments -------------------------------------------------------------------------------
    def done(self) -> dict[str, str]:
        """key → status of every stored judgment that needs no new request (errors are re-tried)."""
        return dict(self.con.execute("SELECT key, status FROM judgments WHERE status != 'error'"))

    def commit(self, task: str, j: Judgment, cache_key: str | None, comp: Completion | None) -> None:
        """Store one judgment — and, for a successful fresh completion, its cache entry — in one
        atomic autocommit statement (the cache row is written by a trigger)."""
        fill_cache = self.cache_enabled and cache_key and comp is not None and comp.error is None and not j.cached
        lp = comp.choice_logprobs if comp is not None else None
        self.con.execute(
            "INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (j.key, task, j.example_id, str(j.meta.get("slot")), int(j.meta.get("attempt", 0)), j.status,
             _dumps(j.verdict), j.confidence, j.text, _dumps(dict(j.meta)), j.usage.prompt_tokens,
             j.usage.completion_tokens, j.usage.cost_usd, j.latency_s, j.retries, int(j.cached), int(j.truncated),
             j.error, time.time(), _dumps(lp), cache_key if fill_cache else None))

    def cache_put(self, key: str, comp: Completion) -> None:
        """Put one successful completion in the shared cache (a backend that composes others, e.g. a jury,
        caches each member's answer under the member's own key); no-op without a cache or for an error."""
        if not self.cache_enabled or comp.error is not None:
            return
        u = comp.usage
        self.con.execute("INSERT OR REPLACE INTO cache.completions VALUES (?,?,?,?,?,?,?,?)",
                         (key, comp.text, _dumps(comp.choice_logprobs), u.prompt_tokens, u.completion_tokens,
                          u.cost_usd, int(comp.truncated), time.time()))

    def cached(self, keys: Sequence[str]) -> dict[str, Completion]:
        """Completions already in the cache for these cache keys."""
        out: dict[str, Completion] = {}
        if not self.cache_enabled:
            return out
        for i in range(0, len(keys), 500):
            chunk = list(keys[i:i + 500])
            q = f"SELECT * FROM cache.completions WHERE key IN ({','.join('?' * len(chunk))})"
            for key, text, lp, pt, ct, cost, trunc, _ in self.con.execute(q, chunk):
                out[key] = Completion(text=text or "", choice_logprobs=_loads(lp), usage=Usage(pt or 0, ct or 0, cost),
                                      truncated=bool(trunc))
        return out

    def judgments(self, task: str | None = None) -> Iterator[Judgment]:
        q = "SELECT key, example_id, status, verdict, confidence, text, meta, prompt_tokens, completion_tokens, " \
            "cost_usd, latency_s, retries, cached, truncated, error, task FROM judgments"
        args: tuple[Any, ...] = ()
        if task is not None:
            q, args = q + " WHERE task=?", (task,)
        for r in self.con.execute(q + " ORDER BY rowid", args):
            yield Judgment(key=r[0], example_id=r[1], status=r[2], verdict=_loads(r[3]), confidence=r[4], text=r[5] or "",
                           meta=_loads(r[6]) or {}, usage=Usage(r[7] or 0, r[8] or 0, r[9]), latency_s=r[10] or 0.0,
                           retries=r[11] or 0, cached=bool(r[12]), truncated=bool(r[13]), error=r[14])

    def totals(self) -> dict[str, Any]:
        r = self.con.execute(
            "SELECT COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd), COUNT(cost_usd), "
            "SUM(retries), SUM(cached), SUM(truncated), SUM(status='parse_error'), SUM(status='error') "
            "FROM judgments").fetchone()
        n = r[0] or 0
        return {"n_judgments": n, "prompt_tokens": r[1] or 0, "completion_tokens": r[2] or 0,
                "cost_usd": (r[3] or 0.0) if r[4] else None, "retries": r[5] or 0, "cached": r[6] or 0,
                "truncated": r[7] or 0, "parse_errors": r[8] or 0, "errors": r[9] or 0}

    # -- items -----------------------------------------------------------------------------------
    def write_items(self, items: Iterable[ItemResult]) -> None:
        con = self.con
        con.execute("BEGIN")
        con.execute("DELETE FROM items")
        con.executemany("INSERT INTO items VALUES (?,?,?,?,?,?,?)",
                        [(it.task, it.example_id, it.category, it.status, it.score, _dumps(it.verdict),
                          _dumps(it.details)) for it in items])
        con.execute("COMMIT")

    def items(self) -> list[ItemResult]:
        rows = self.con.execute("SELECT task, example_id, category, status, score, verdict, details FROM items ORDER BY rowid")
        return [ItemResult(example_id=r[1], category=r[2] or "", status=r[3], score=r[4], verdict=_loads(r[5]),
                           details=_loads(r[6]) or {}, task=r[0]) for r in rows]

    def close(self) -> None:
        self.con.close()
