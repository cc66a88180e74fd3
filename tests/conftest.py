"""Shared fixtures: paths to the real data, an isolated cache, and the real CLI in a subprocess."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = (ROOT / ".." / "shared" / "data").resolve()
FIXTURES = ROOT / "tests" / "fixtures"

# A test run started in the background by a shell without job control (`cmd &` in a script) begins with SIGINT
# ignored, and so would every CLI it starts.  The interrupt tests deliver SIGINT on purpose: give this process
# Python's usual handler (a child process then starts with the default disposition, as from a terminal).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(DATA))
    yield cache


@pytest.fixture
def data_dir() -> Path:
    assert DATA.exists(), f"the real data must be at {DATA}"
    return DATA


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = False,
        timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `judgebench` CLI in a subprocess."""
    e = {**os.environ, **(env or {})}
    p = subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=cwd or ROOT, env=e, text=True,
                       capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"judgebench {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
