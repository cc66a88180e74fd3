"""Crash safety: SIGKILL a run at random moments, resume, and compare with an uninterrupted run."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .conftest import ROOT, write_jsonl

N_ROWS = 520  # x2 orders = 1,040 requests


def _task_dir(tmp: Path) -> Path:
    d = tmp / "tasks"
    d.mkdir()
    rng = random.Random(7)
    rows = [{"id": f"q{i}", "q": f"question {i}?", "a": "x" * rng.randint(1, 30), "b": "y" * rng.randint(1, 30),
             "win": rng.randint(0, 1)} for i in range(N_ROWS)]
    write_jsonl(d / "rows.jsonl", rows)
    (d / "crash.yaml").write_text("name: crash-demo\nloader: pairs\nsource:\n  path: rows.jsonl\n  fields: "
                                  "{id: id, prompt: q, candidate_fields: [a, b], label: win}\nprotocol: pairwise\n")
    return d


def _cmd(tasks: Path, run_dir: Path, log: Path) -> list[str]:
    return [sys.executable, "-m", "judgebench.cli", "run", "--backend", "scripted", "--backend-opt",
            "fn=tests.scripted_replies:by_length", "--backend-opt", "latency=0.002", "--backend-opt", f"log_file={log}",
            "--task", "crash-demo", "--include-path", str(tasks), "--run-dir", str(run_dir), "--no-cache", "--quiet"]


def _rows(run_dir: Path) -> list[tuple]:
    con = sqlite3.connect(run_dir / "judgments.sqlite")
    try:
        return sorted(con.execute("SELECT key, status, verdict FROM judgments"))
    finally:
        con.close()


def _sent(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    tasks = _task_dir(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ref_dir, ref_log = tmp_path / "ref", tmp_path / "ref.log"
    subprocess.run(_cmd(tasks, ref_dir, ref_log), cwd=ROOT, env=env, check=True, capture_output=True)
    reference = _rows(ref_dir)
    assert len(reference) == 2 * N_ROWS and len(_sent(ref_log)) == 2 * N_ROWS

    rng = random.Random(12345)
    for trial in range(3):
        run_dir, log = tmp_path / f"t{trial}", tmp_path / f"t{trial}.log"
        proc = subprocess.Popen(_cmd(tasks, run_dir, log), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 60  # kill at a random point after judging has started
        target = rng.randint(50, 2 * N_ROWS - 100)
        while len(_sent(log)) < target and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.random() * 0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        committed = {k for k, *_ in _rows(run_dir)}
        sent_before = _sent(log)
        assert 0 < len(committed) < 2 * N_ROWS, f"trial {trial}: the kill should land mid-run"
        assert committed <= set(sent_before)
        subprocess.run(_cmd(tasks, run_dir, log), cwd=ROOT, env=env, check=True, capture_output=True)
        resent = _sent(log)[len(sent_before):]
        assert not committed & set(resent), "a committed judgment was sent again"
        assert len(resent) == len(set(resent)) == 2 * N_ROWS - len(committed)
        assert _rows(run_dir) == reference, "resumed run differs from the uninterrupted one"
