"""How many CPU threads a local judge should use: the CPUs this process may run on (affinity and cgroup quota),
shared with the other judgebench processes judging locally on this machine (a small registry of pid files)."""
from __future__ import annotations

import atexit
import json
import math
import os
import time
from pathlib import Path
from typing import Any

_registered: list[Path] = []


def affinity_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cgroup_quota_cpus(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs granted by the cgroup's quota (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``); None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        q = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        p = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if q <= 0 or p <= 0 else q / p
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity set, capped by the cgroup quota (rounded up)."""
    n = affinity_cpus()
    quota = cgroup_quota_cpus()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def registry_dir() -> Path:
    root = os.environ.get("JUDGEBENCH_CACHE_DIR")
    if not root:
        import platformdirs
        root = platformdirs.user_cache_dir("judgebench")
    return Path(root) / "procs"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a live process from a reused pid); None where /proc is absent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(entry: dict[str, Any]) -> bool:
    pid = int(entry.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    started = _start_time(pid)
    return started is None or entry.get("start") in (None, started)


def others() -> list[dict[str, Any]]:
    """The other live judgebench processes judging locally; stale entries (dead or reused pids) are removed."""
    out = []
    d = registry_dir()
    if not d.is_dir():
        return out
    for f in d.glob("*.json"):
        try:
            entry = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if int(entry.get("pid", -1)) == os.getpid():
            continue
        if _alive(entry):
            out.append(entry)
        else:
            f.unlink(missing_ok=True)
    return out


def register(threads: int, what: str) -> Path | None:
    """Announce this process (until :func:`unregister` or exit) so that later local runs share the CPUs."""
    d = registry_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        f = d / f"{os.getpid()}.json"
        f.write_text(json.dumps({"pid": os.getpid(), "start": _start_time(os.getpid()), "threads": threads,
                                 "what": what, "since": time.time()}))
    except OSError:
        return None
    if not _registered:
        atexit.register(unregister)
    if f not in _registered:
        _registered.append(f)
    return f


def unregister() -> None:
    while _registered:
        _registered.pop().unlink(missing_ok=True)


def choose_threads(requested: int | None = None) -> dict[str, Any]:
    """{"threads": n, "why": ...}: ``requested`` if given, else the usable CPUs divided among this process and the
    other judgebench processes judging locally (at least 1)."""
    cpus = usable_cpus()
    if requested is not None:
        return {"threads": int(requested), "why": "option threads", "usable_cpus": cpus}
    peers = others()
    n = max(1, cpus // (1 + len(peers)))
    return {"threads": n, "why": f"{cpus} usable CPU(s) shared by {1 + len(peers)} local judgebench process(es)",
            "usable_cpus": cpus, "peers": [p.get("pid") for p in peers]}
