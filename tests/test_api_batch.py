"""Batch mode end to end: the real CLI against the loopback Batch API — partial failures, expiry, kill -9 resumes."""
from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from judgebench_api.testing import FakeChatServer

from judgebench.store import RUN_DB

from .api_helpers import sample_requests, scripted_reply
from .conftest import ROOT, cli

PRICES = ["-o", "input_per_mtok=1.0", "-o", "output_per_mtok=2.0"]


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "no-credentials.toml"))


def args(url: str, run: Path, limit: int, batch_size: int) -> list[str]:
    return ["run", "--backend", "openai:judge-test", "-o", f"base_url={url}", "-o", "batch=true", "-o",
            f"batch_size={batch_size}", "-o", "poll_interval=0.05", *PRICES, "--task", "sample", "--split", "train",
            "--limit", str(limit), "--run-dir", str(run), "--no-cache", "-q"]


def judged(run: Path) -> list[tuple]:
    con = sqlite3.connect(run / RUN_DB)
    try:
        return con.execute("SELECT key, status, text, prompt_tokens, completion_tokens, cost_usd "
                           "FROM judgments").fetchall()
    finally:
        con.close()


def full_price(pt: int, ct: int) -> float:
    return (pt * 1.0 + ct * 2.0) / 1e6


@pytest.mark.parametrize("fail_rate, expire_after", [(0.3, None), (0.0, 4)])
def test_batch_run_retries_failures_one_by_one(tmp_path, fail_rate, expire_after):
    run = tmp_path / "run"
    with FakeChatServer(batch_delay_s=0.05, batch_fail_rate=fail_rate, batch_expire_after=expire_after) as srv:
        p = cli(*args(srv.url, run, 30, 15))
        assert p.returncode == 0, p.stderr
        direct = len(srv.bodies)  # requests sent one by one, after failing in their batch
        submitted = dict(srv.batch.submitted)
        batches = list(srv.batch.batches.values())
    rows = judged(run)
    expected = {r.key: scripted_reply(r) for r in sample_requests(30)}
    assert len(rows) == 60 and {s for _, s, *_ in rows} == {"ok"}
    assert {k: t for k, _, t, *_ in rows} == expected
    assert len(batches) == 4 and len(submitted) == 60 and set(submitted.values()) == {1}
    failed = sum(b["request_counts"]["failed"] for b in batches)
    assert failed == direct > 0
    if expire_after is not None:
        assert {b["status"] for b in batches} == {"expired"} and failed == 60 - 4 * 4
    at_batch_price = [r for r in rows if r[5] == pytest.approx(0.5 * full_price(r[3], r[4]))]
    at_full_price = [r for r in rows if r[5] == pytest.approx(full_price(r[3], r[4]))]
    assert len(at_batch_price) == 60 - failed and len(at_full_price) == failed


def test_estimate_shows_both_prices(tmp_path):
    p = cli("estimate", "--backend", "openai:gpt-4o-mini", "-o", "batch=true", *PRICES, "--task", "sample",
            "--limit", "5", "--json")
    assert p.returncode == 0, p.stderr
    import json

    out = json.loads(p.stdout)
    assert out["expected_max_cost_batch_api_usd"] == pytest.approx(out["expected_max_cost_usd"] * 0.5)


def test_litellm_refuses_batch_mode():
    p = cli("run", "--backend", "litellm:openai/judge-test", "-o", "base_url=http://127.0.0.1:9/v1", "-o", "batch=true",
            "--task", "sample", "--limit", "1")
    assert p.returncode == 2 and "openai backend only" in p.stderr


def test_kill_9_during_submit_poll_and_download_never_submits_twice(tmp_path):
    run = tmp_path / "run"
    rnd = random.Random(16)
    with FakeChatServer(batch_delay_s=2.0) as srv:
        kills = 0
        for _ in range(3):
            proc = subprocess.Popen([sys.executable, "-m", "judgebench.cli", *args(srv.url, run, 40, 8)], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.time() + 300  # wait until this process talks to the server, then kill at a random moment
            start = srv.hits
            while srv.hits == start and proc.poll() is None and time.time() < deadline:
                time.sleep(0.01)
            time.sleep(rnd.uniform(0.0, 2.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.communicate(timeout=30)
        p = cli(*args(srv.url, run, 40, 8))
        assert p.returncode == 0, p.stderr
        submitted = dict(srv.batch.submitted)
        direct = len(srv.bodies)
    assert kills >= 1  # how many of the three kills land before the run finishes depends on the machine's speed
    rows = judged(run)
    assert len(rows) == 80 and {s for _, s, *_ in rows} == {"ok"}  # every judgment stored, once (primary key)
    assert {k: t for k, _, t, *_ in rows} == {r.key: scripted_reply(r) for r in sample_requests(40)}
    assert len(submitted) == 80 and set(submitted.values()) == {1}  # the server saw no request submitted twice
    assert direct == 0
    assert all(r[5] == pytest.approx(0.5 * full_price(r[3], r[4])) for r in rows)  # all at the batch price
    con = sqlite3.connect(run / RUN_DB)
    states = con.execute("SELECT state, COUNT(*), SUM(n) FROM api_batches GROUP BY state").fetchall()
    con.close()
    assert states == [("submitted", 10, 80)]
