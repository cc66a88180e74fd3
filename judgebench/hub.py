"""Is the Hugging Face hub reachable?  Decided once per process (offline variables, else one short connection
attempt), so that a missing model or data set fails at once with what to do instead of minutes of hub retries."""
from __future__ import annotations

import difflib
import os
import socket
import threading
from typing import Iterable
from urllib.parse import urlparse

OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
DATA_VAR = "JUDGEBENCH_DATA_DIR"
_decided: bool | None = None
_why = ["the Hugging Face hub is not reachable"]
_lock = threading.Lock()


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


def _reachable(host: str, port: int, timeout: float) -> bool:
    """One TCP connection attempt (name lookup included) bounded by ``timeout`` seconds."""
    ok: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass
    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(timeout)
    return bool(ok)


def offline(timeout: float = 2.0) -> bool:
    """True when an offline variable is set or the hub (``HF_ENDPOINT``, default huggingface.co) cannot be reached.
    When offline, ``HF_HUB_OFFLINE=1`` is set for the libraries imported afterwards (no retries, local cache only)."""
    global _decided
    with _lock:
        if _decided is None:
            set_vars = [v for v in OFFLINE_VARS if _truthy(os.environ.get(v))]
            if set_vars:
                _decided, _why[0] = True, f"offline mode ({', '.join(set_vars)} set)"
            else:
                url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
                port = url.port or (443 if url.scheme == "https" else 80)
                _decided = not _reachable(url.hostname or "huggingface.co", port, timeout)
                _why[0] = f"no network ({url.hostname}:{port} is not reachable)"
            if _decided:
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["HF_DATASETS_OFFLINE"] = "1"
        return _decided


def offline_reason() -> str:
    """Why :func:`offline` said so."""
    return _why[0]


def near(name: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The candidate closest to ``name`` (case-insensitive), if close enough to be a typo of it."""
    pool = {c.lower(): c for c in candidates}
    hit = difflib.get_close_matches(name.lower(), list(pool), n=1, cutoff=cutoff)
    return pool[hit[0]] if hit and hit[0] != name.lower() else None


def data_dir_hint() -> str:
    """The variable that says where local benchmark data lives, and its value."""
    now = os.environ.get(DATA_VAR)
    return f"set {DATA_VAR} to the folder holding the benchmark data (it is {repr(now) if now else 'not set'})"
