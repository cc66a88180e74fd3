"""End to end: `judgebench run --backend openai:…` against a loopback server — faults, secrets, budget, interrupts."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judgebench_api.openai_backend import OpenAIBackend
from judgebench_api.testing import FakeChatServer

from judgebench.engine import estimate_cost
from judgebench.store import RUN_DB

from .api_helpers import SECRET, sample_requests, scripted_reply
from .conftest import ROOT, cli


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "no-credentials.toml"))


def rows(run_dir: Path, query: str) -> list[tuple]:
    con = sqlite3.connect(run_dir / RUN_DB)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def assert_secret_nowhere(run_dir: Path, *logs: str) -> None:
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert SECRET.encode() not in p.read_bytes(), p
    for text in logs:
        assert SECRET not in text


def test_run_300_items_through_30_percent_faults(tmp_path):
    run = tmp_path / "run"
    with FakeChatServer(fault_rate=0.3, retry_after=1, hang_s=60.0, api_key=SECRET) as srv:  # hang >> timeout
        p = cli("run", "--backend", "openai:judge-test", "-o", f"base_url={srv.url}", "-o", "api_key_env=JB_KEY",
                "-o", "timeout=5", "-o", "concurrency=32", "--task", "sample", "--split", "train", "--limit", "300",
                "--run-dir", str(run), "--json", "-q", env={"JB_KEY": SECRET})
    assert p.returncode == 0, p.stderr
    faults = sum(v for k, v in srv.outcomes().items() if k != "ok")
    assert faults > 100 and all(s.auth == SECRET for s in srv.log)
    expected = {r.key: scripted_reply(r) for r in sample_requests(300)}
    judged = rows(run, "SELECT key, status, text, retries FROM judgments")
    assert len(judged) == 600 and {s for _, s, _, _ in judged} == {"ok"}
    assert {k: t for k, _, t, _ in judged} == expected  # every verdict is the server's answer, none a faulty body
    assert sum(r for *_, r in judged) == faults
    out = json.loads(p.stdout)
    assert out["usage"]["retries"] == faults and out["usage"]["errors"] == 0
    assert rows(run, "SELECT COUNT(*), SUM(status = 'ok') FROM items") == [(300, 300)]
    assert_secret_nowhere(run, p.stdout, p.stderr)


def test_errors_are_redacted_stored_as_errors_and_retried_on_the_next_run(tmp_path):
    run = tmp_path / "run"
    # the echo_key fault (a 400 quoting the caller's key) hits a body's first attempt only
    with FakeChatServer(fault_rate=0.25, faults=["echo_key"], max_faults_per_body=1, api_key=SECRET) as srv:
        args = ["run", "--backend", "openai:judge-test", "-o", f"base_url={srv.url}", "-o", "api_key_env=JB_KEY",
                "--task", "sample", "--limit", "20", "--run-dir", str(run), "-q"]
        p = cli(*args, env={"JB_KEY": SECRET})
        assert p.returncode == 4, p.stderr  # finished, some items in error
        errors = rows(run, "SELECT error FROM judgments WHERE status = 'error'")
        n_err = srv.outcomes()["echo_key"]
        assert len(errors) == n_err > 0 and len(srv.log) == 40
        assert all("***" in e and "400" in e for (e,) in errors)
        assert_secret_nowhere(run, p.stdout, p.stderr)
        p2 = cli(*args, env={"JB_KEY": SECRET})  # the same command again: only the errors are sent again
    assert p2.returncode == 0, p2.stderr
    assert len(srv.log) == 40 + n_err
    assert rows(run, "SELECT COUNT(*), SUM(status = 'ok') FROM judgments") == [(40, 40)]
    assert_secret_nowhere(run, p2.stdout, p2.stderr)


def test_max_cost_stops_request_by_request_and_a_higher_budget_completes(tmp_path):
    run = tmp_path / "run"
    opts = {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0, "batch_size": 32, "concurrency": 8}
    budget = 10.0
    with FakeChatServer() as srv:
        base = ["run", "--backend", "openai:judge-test", "-o", f"base_url={srv.url}", "--task", "sample",
                "--run-dir", str(run), "-q", *[x for k, v in opts.items() for x in ("-o", f"{k}={v}")]]
        p = cli(*base, "--max-cost", str(budget))
        assert p.returncode == 3, p.stderr
        assert "--max-cost" in p.stderr
        (n, spent), = rows(run, "SELECT COUNT(*), SUM(cost_usd) FROM judgments")
        assert 0 < n < 280 and spent <= budget
        b = OpenAIBackend("judge-test", base_url=srv.url, **opts)
        reqs = sample_requests(140, split="test")
        biggest = max(estimate_cost(b, [r]) for r in reqs)
        # it went on while the next request still fitted, counting what the (8) requests in flight might cost
        assert budget - spent < (opts["concurrency"] + 1) * biggest
        assert len(srv.log) == n  # nothing was sent that is not stored
        served_first = len(srv.log)
        p2 = cli(*base, "--max-cost", "1000")
        assert p2.returncode == 0, p2.stderr
    assert rows(run, "SELECT COUNT(*), SUM(status = 'ok') FROM judgments") == [(280, 280)]
    assert served_first == n and len(srv.log) == 280  # nothing judged was sent twice


def _start_run(run: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "judgebench.cli", "run", "--backend", "openai:judge-test",
                             "-o", f"base_url={url}", "-o", "concurrency=4", "-o", "max_concurrency=4", "-o", "batch_size=16",
                             "--task", "sample",
                             "--limit", "60",
                             "--run-dir", str(run), "-q"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _committed(run: Path) -> int:
    try:
        return rows(run, "SELECT COUNT(*) FROM judgments")[0][0] if (run / RUN_DB).exists() else 0
    except sqlite3.OperationalError:  # the run is still creating its tables
        return 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupt_or_kill_loses_nothing_committed_and_resume_finishes(tmp_path, sig):
    run = tmp_path / "run"
    with FakeChatServer(latency=0.2) as srv:
        proc = _start_run(run, srv.url)
        deadline = time.time() + 60
        while _committed(run) < 20 and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(sig)
        t0 = time.time()
        _, err = proc.communicate(timeout=30)
        stopped_in = time.time() - t0
        if sig == signal.SIGINT:
            # promptness is shown by what was left undone (before < 120 below), not by a wall-clock bound that a
            # loaded machine can miss; the 25 s only catches a run that waited for everything in the queue
            assert proc.returncode == 130 and "interrupted" in err and stopped_in < 25
        else:
            assert proc.returncode == -signal.SIGKILL
        before = _committed(run)
        assert 20 <= before < 120
        p = cli("run", "--resume", str(run), "-q")
        assert p.returncode == 0, p.stderr
    assert rows(run, "SELECT COUNT(*), SUM(status = 'ok') FROM judgments") == [(120, 120)]
    # only requests in flight at the interrupt (at most `max_concurrency`) were sent twice
    assert 120 <= len(srv.log) <= 120 + 4


def test_litellm_backend_runs_end_to_end(tmp_path):
    run = tmp_path / "run"
    with FakeChatServer(fault_rate=0.2, retry_after=1, hang_s=60.0) as srv:  # hang >> timeout >> a loaded answer
        p = cli("run", "--backend", "litellm:openai/judge-test", "-o", f"base_url={srv.url}", "-o", "timeout=5",
                "--task", "sample", "--limit", "20", "--run-dir", str(run), "-q", "--json")
    assert p.returncode == 0, p.stderr
    assert rows(run, "SELECT COUNT(*), SUM(status = 'ok'), SUM(retries) FROM judgments") == [
        (40, 40, sum(v for k, v in srv.outcomes().items() if k != "ok"))]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["backend"]["info"]["plugin"] == "litellm" and manifest["backend"]["info"]["sdk"].startswith("litellm")
