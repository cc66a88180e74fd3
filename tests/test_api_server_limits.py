"""The loopback server's rate limits and Batch API, driven by the real openai SDK over HTTP."""
from __future__ import annotations

import io
import json
import time

import httpx
import openai
import pytest
from judgebench_api.testing import FakeChatServer
from judgebench_api.testing_limits import fmt_duration

BODY = {"model": "judge-test", "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 4}


def test_rpm_limit_answers_429_with_headers():
    # 3 requests per (compressed) window, the whole window's quota as burst: the 4th at once is refused
    with FakeChatServer(rpm=3, rate_window_s=3600, rate_burst=1.0) as srv:
        with httpx.Client(base_url=srv.url) as c:
            oks = [c.post("/chat/completions", json=BODY) for _ in range(3)]
            refused = c.post("/chat/completions", json=BODY)
    assert [r.status_code for r in oks] == [200, 200, 200]
    assert oks[0].headers["x-ratelimit-limit-requests"] == "3"
    assert [r.headers["x-ratelimit-remaining-requests"] for r in oks] == ["2", "1", "0"]
    assert refused.status_code == 429
    assert float(refused.headers["retry-after"]) > 1000  # an hour-long window refills slowly
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    assert srv.outcomes() == {"ok": 3, "rate_limited": 1}
    assert srv.limits.accepted == 3 and srv.limits.limited == 1


def test_tpm_limit_counts_tokens():
    with FakeChatServer(tpm=150, rate_window_s=3600, rate_burst=1.0) as srv:
        with httpx.Client(base_url=srv.url) as c:
            first = c.post("/chat/completions", json=BODY)
            second = c.post("/chat/completions", json=BODY)
    used = first.json()["usage"]["total_tokens"]
    assert 100 < used <= 150 < 2 * used
    assert first.status_code == 200 and int(first.headers["x-ratelimit-remaining-tokens"]) == 150 - used
    assert second.status_code == 429


def test_fmt_duration():
    assert fmt_duration(0.02) == "20ms" and fmt_duration(1.5) == "1.5s" and fmt_duration(360) == "6m0s"


def _jsonl(n: int) -> bytes:
    rows = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
             "body": {**BODY, "messages": [{"role": "user", "content": f"question {i}"}]}} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _wait(client: openai.OpenAI, bid: str, done: tuple[str, ...] = ("completed", "expired", "cancelled", "failed")):
    for _ in range(500):
        b = client.batches.retrieve(bid)
        if b.status in done:
            return b
        time.sleep(0.02)
    raise AssertionError(f"batch {bid} never finished: {b.status}")


def _lines(client: openai.OpenAI, fid: str | None) -> list[dict]:
    return [] if fid is None else [json.loads(x) for x in client.files.content(fid).text.splitlines()]


@pytest.mark.parametrize("fail_rate, expire_after", [(0.0, None), (0.3, None), (0.0, 7)])
def test_batch_roundtrip(fail_rate, expire_after):
    with FakeChatServer(batch_delay_s=0.05, batch_fail_rate=fail_rate, batch_expire_after=expire_after) as srv:
        client = openai.OpenAI(api_key="k", base_url=srv.url, max_retries=0)
        f = client.files.create(file=("in.jsonl", io.BytesIO(_jsonl(20))), purpose="batch")
        b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert b.status == "validating" and b.request_counts.total == 20
        b = _wait(client, b.id)
        out, errs = _lines(client, b.output_file_id), _lines(client, b.error_file_id)
        client.close()
    assert sorted(r["custom_id"] for r in out + errs) == sorted(f"r{i}" for i in range(20))
    assert all(r["response"]["status_code"] == 200 and r["response"]["body"]["choices"] for r in out)
    assert b.request_counts.completed == len(out) and b.request_counts.failed == len(errs)
    assert srv.batch.submitted == {f"r{i}": 1 for i in range(20)}
    if expire_after is not None:
        assert b.status == "expired" and len(out) == 7
        assert {r["error"]["code"] for r in errs} == {"batch_expired"}
    elif fail_rate:
        assert b.status == "completed" and 0 < len(errs) < 20
        assert {r["response"]["status_code"] for r in errs} == {500}
    else:
        assert b.status == "completed" and not errs


def test_batch_cancel_and_unknown_ids():
    with FakeChatServer(batch_delay_s=30) as srv:
        client = openai.OpenAI(api_key="k", base_url=srv.url, max_retries=0)
        f = client.files.create(file=("in.jsonl", io.BytesIO(_jsonl(3))), purpose="batch")
        b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert client.batches.cancel(b.id).status == "cancelling"
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch-nope")
        with pytest.raises(openai.BadRequestError):
            client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")
        client.close()
