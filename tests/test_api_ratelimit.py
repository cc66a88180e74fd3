"""Rate-limit-aware sending: token buckets, limits learnt from x-ratelimit-* headers, AIMD concurrency, 429 counts."""
from __future__ import annotations

import asyncio
import json

import pytest
from judgebench_api.openai_backend import OpenAIBackend
from judgebench_api.ratelimit import RateControl, parse_duration
from judgebench_api.testing import FakeChatServer

from .api_helpers import sample_requests, scripted_reply
from .conftest import cli


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "no-credentials.toml"))


def test_parse_duration():
    assert parse_duration("6m0s") == 360 and parse_duration("1.5s") == 1.5 and parse_duration("20ms") == 0.02
    assert parse_duration("2") == 2 and parse_duration("1h2m") == 3720 and parse_duration("soon") is None


def test_aimd_grows_when_saturated_and_halves_once_per_pause():
    async def scenario() -> RateControl:
        rc = RateControl(None, None, 60, concurrency=4, max_concurrency=10, adaptive=True)
        async with rc, rc, rc:  # three of four slots busy: not saturated, no growth
            rc.observe(200, None)
            assert rc.limit == 4
            async with rc:  # all four busy: slow start adds one per healthy answer, while saturated
                rc.observe(200, None)
                assert rc.limit == 5
                rc.observe(200, None)  # four of five busy: no growth
                assert rc.limit == 5
                rc.observe(429, {"x-ratelimit-limit-requests": "120"}, retry_after=30)
                assert rc.limit == 2.5 and rc.learned == {"requests": 120.0}
                rc.observe(429, None, retry_after=30)  # the same pause: no second halving
                assert rc.limit == 2.5 and rc.n_429 == 2
                rc.paused_until = 0  # after the pause: additive increase by 1/limit
                rc.observe(200, None)
                assert rc.limit == pytest.approx(2.5 + 1 / 2.5)
        return rc

    rc = asyncio.run(scenario())
    assert rc.in_flight == 0 and rc.limits_per_min()["rpm"] == pytest.approx(120.0)
    fixed = RateControl(None, None, 60, concurrency=4, max_concurrency=10, adaptive=False)
    fixed.observe(429, None, 0.0)
    assert fixed.limit == 4


def test_options_below_the_server_limits_draw_no_429(tmp_path):
    reqs = sample_requests(30)  # 60 requests
    # server: 1200 requests per 6 s window, client told 600/window: it never exceeds the server's bucket
    with FakeChatServer(rpm=1200, rate_window_s=6, rate_burst=0.1) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, rpm=600, rate_window_s=6, concurrency=8)
        try:
            got = dict(b.stream(reqs))
        finally:
            b.close()
        stats = b.rate_stats()
    assert {i: c.text for i, c in got.items()} == {i: scripted_reply(r) for i, r in enumerate(reqs)}
    assert srv.limits.limited == 0 and stats["n_429"] == 0 and stats["requests_ok"] == 60
    assert stats["learned_from_headers"] == {"window_s": 6.0, "requests": 1200.0}
    assert stats["limits_per_min"]["rpm"] == pytest.approx(6000.0)  # 600 per 6 s, in real minutes


def test_limits_learnt_from_headers_after_429s(tmp_path):
    reqs = sample_requests(40)  # 80 requests, no limits configured on the client
    with FakeChatServer(rpm=600, tpm=60_000, rate_window_s=3, rate_burst=0.05) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, concurrency=32, max_retries=20)
        try:
            got = dict(b.stream(reqs))
        finally:
            b.close()
        stats = b.rate_stats()
    assert all(c.error is None for c in got.values()) and len(got) == 80
    assert stats["learned_from_headers"] == {"window_s": 3.0, "requests": 600.0, "tokens": 60_000.0}
    assert stats["n_429"] == srv.limits.limited  # every 429 the server sent was seen (and retried)
    assert stats["requests_ok"] == srv.limits.accepted == 80
    assert stats["ok_tokens"] == srv.limits.accepted_tokens
    assert sum(c.retries for c in got.values()) == srv.limits.limited


def test_manifest_and_cli_show_rates_and_429s(tmp_path):
    run = tmp_path / "run"
    with FakeChatServer(rpm=3000, tpm=600_000, rate_window_s=6, rate_burst=0.02) as srv:
        p = cli("run", "--backend", "openai:judge-test", "-o", f"base_url={srv.url}", "-o", "concurrency=4",
                "--task", "sample", "--split", "train", "--limit", "40", "--run-dir", str(run), "--no-cache")
        assert p.returncode == 0, p.stderr
    assert "requests/min" in p.stdout and "429s:" in p.stdout
    rates = json.loads((run / "manifest.json").read_text())["usage"]["rates"]
    assert rates["requests_ok"] == 80 == srv.limits.accepted
    assert rates["n_429"] == srv.limits.limited
    assert rates["achieved_rpm"] > 0 and rates["achieved_tpm"] > 0
    assert rates["learned_from_headers"]["requests"] == 3000
    p = cli("report", str(run), "--format", "json")
    assert p.returncode == 0, p.stderr
    assert "n_429" in p.stdout
