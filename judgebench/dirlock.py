"""One writer per run (or tuned-judge) directory: an OS lock held for the writer's lifetime.

The lock is ``flock(LOCK_EX | LOCK_NB)`` on ``<dir>/.judgebench.lock``; the kernel drops it when the process ends,
however it ends (``kill -9`` included), so a lock is never left behind by a dead writer.  The same file holds a JSON
record of the holder (pid, host, start time, command) that a second writer quotes when it is refused, and that the
next writer finds (and reports as taken over) when the previous one died without cleaning up.
"""
from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .redact import redact_text

LOCK_FILE = ".judgebench.lock"


def _holder_text(record: dict[str, Any]) -> str:
    return (f"pid {record.get('pid', '?')} on host {record.get('host', '?')}, started {record.get('started', '?')}"
            f" ({record.get('command', '?')})")


class DirLock:
    """``with DirLock(path, "run"):`` — or :meth:`acquire` / :meth:`release` around a longer stretch."""

    def __init__(self, directory: Path, what: str = "run") -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.what = what
        self.fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the record of a dead holder found on acquiring

    def acquire(self) -> "DirLock":
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                record = _read(fd)
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise ConfigError(f"{self.directory}: cannot lock {self.path.name}: {e.strerror}") from None
                held = _holder_text(record) if record else "another process (no holder record yet)"
                kind = (record or {}).get("what") or "judgebench process"
                raise ConfigError(f"{self.directory} is in use by another {kind}: {held}; wait for it to finish "
                                  f"or stop it (one writer per directory)") from None
            try:  # the file we locked must still be the one at the path (a writer that gave up may remove it)
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read(fd)
        if previous and previous.get("pid") is not None:
            self.took_over = previous  # its process is gone: the kernel released its lock
        record = {"what": self.what, "pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "command": redact_text(" ".join(["judgebench", *sys.argv[1:]]))[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self.fd = fd
        if self.took_over:
            print(f"judgebench: note: {self.directory}: took over the lock of a {self.what} that ended without "
                  f"releasing it ({_holder_text(self.took_over)})", file=sys.stderr)
        return self

    def release(self, remove: bool = False) -> None:
        """Drop the lock; ``remove``: also delete the lock file and the directory when nothing else is in it
        (a writer that failed before writing anything leaves no folder behind)."""
        if self.fd is None:
            return
        try:
            if remove:
                self.path.unlink(missing_ok=True)  # before unlocking: a waiting writer re-checks the inode
                try:
                    self.directory.rmdir()
                except OSError:
                    pass  # not empty: someone else's files
            else:
                os.ftruncate(self.fd, 0)  # an empty record: released cleanly
        finally:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None

    def __enter__(self) -> "DirLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _read(fd: int) -> dict[str, Any] | None:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
