"""The `openai` backend against a real loopback HTTP server: volume, faults, retries, streaming, payloads, keys."""
from __future__ import annotations

import _thread
import math
import sys
import threading
import time

import pytest
from judgebench_api.openai_backend import OpenAIBackend
from judgebench_api.testing import FAULTS, FakeChatServer

from judgebench.engine import prepare_tasks
from judgebench.errors import ConfigError
from judgebench.types import JudgeRequest, Message, SamplingParams

from .api_helpers import SECRET, api_threads, sample_requests, scripted_reply


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "no-credentials.toml"))


def server_prompt_tokens(req: JudgeRequest) -> int:
    from judgebench_api.chat import chat_messages

    msgs = chat_messages(req, "assistant")
    return sum(len(m["content"]) for m in msgs) // 4 + 3 * len(msgs)


def test_three_hundred_requests_complete_with_usage_and_cost():
    reqs = sample_requests(150)
    assert len(reqs) == 300
    with FakeChatServer() as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, concurrency=16, input_per_mtok=2.0, output_per_mtok=8.0)
        try:
            out = b.generate(reqs)
        finally:
            b.close()
    assert len(srv.log) == 300 and all(c.error is None for c in out)
    assert [c.text for c in out] == [scripted_reply(r) for r in reqs]
    for req, c in zip(reqs, out):
        assert c.usage.prompt_tokens == server_prompt_tokens(req) and c.usage.completion_tokens == 1
        assert c.usage.cost_usd == pytest.approx((c.usage.prompt_tokens * 2.0 + 8.0) / 1e6)
        assert c.retries == 0 and c.latency_s > 0
    assert api_threads() == []


def test_thirty_percent_faults_every_request_ends_judged_and_retries_are_counted():
    reqs = sample_requests(150)
    # a "timeout" fault never answers within the client's timeout (60 s vs 5 s) and a normal answer comes well inside
    # it even on a loaded machine (a 1 s hang vs a 0.5 s timeout let a starved client take a late answer as a success)
    with FakeChatServer(fault_rate=0.3, retry_after=1.5, hang_s=60.0) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, concurrency=32, timeout=5.0)
        try:
            got = dict(b.stream(reqs))
        finally:
            b.close()
    outcomes = srv.outcomes()
    faults = sum(v for k, v in outcomes.items() if k != "ok")
    assert set(outcomes) == {"ok", *FAULTS}, outcomes  # every kind of fault was served
    first = [s for s in srv.log if s.attempt == 0]
    assert 0.2 < sum(s.outcome != "ok" for s in first) / len(first) < 0.4
    assert sorted(got) == list(range(300))
    assert [c.error for c in got.values() if c.error] == []
    # the text of every completion is the server's verdict for that request: no faulty body became an answer
    assert [got[i].text for i in range(300)] == [scripted_reply(r) for r in reqs]
    assert outcomes["ok"] == 300
    assert sum(c.retries for c in got.values()) == faults
    # a 429 on a first attempt was followed by a pause of at least its Retry-After (1.5 s; backoff alone ≤ 0.5 s)
    by_body: dict[str, list] = {}
    for s in srv.log:
        by_body.setdefault(s.body, []).append(s)
    gaps = [seq[1].t - seq[0].t for seq in by_body.values() if seq[0].outcome == "429"]
    assert gaps and min(gaps) >= 1.45


@pytest.mark.parametrize("fault", ["truncated", "no_choices", "empty"])
def test_malformed_bodies_are_retried_then_reported_as_errors_never_verdicts(fault):
    (task,) = prepare_tasks("sample", split="test", limit=2)
    reqs = [r for ex in task.examples for r in task.protocol.expand(ex)]
    with FakeChatServer(fault_rate=1.0, faults=[fault], max_faults_per_body=99) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, max_retries=2)
        try:
            out = b.generate(reqs)
        finally:
            b.close()
    assert len(srv.log) == 3 * len(reqs)  # one try and two retries each
    for req, c in zip(reqs, out):
        assert c.error and c.retries == 2 and c.error.startswith("after 2 retries")
        j = task.protocol.parse(req, c)
        assert j.status == "error" and j.verdict is None


def test_one_retry_budget_across_sdk_and_body_retries():
    reqs = sample_requests(2)
    with FakeChatServer(fault_rate=1.0, faults=["429", "truncated"], max_faults_per_body=99, retry_after=0.05) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, max_retries=4)
        try:
            out = b.generate(reqs)
        finally:
            b.close()
    assert len(srv.log) == 5 * len(reqs)
    assert all(c.error and c.retries == 4 for c in out)


def test_client_errors_are_not_retried_and_keys_are_redacted(monkeypatch):
    monkeypatch.setenv("JB_TEST_KEY", SECRET)
    reqs = sample_requests(2)
    with FakeChatServer(api_key="the-right-key-000000") as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, api_key_env="JB_TEST_KEY")
        try:
            out = b.generate(reqs)
        finally:
            b.close()
    assert len(srv.log) == 0 and all(c.error for c in out)  # 401: refused before reaching the judge
    for c in out:
        assert c.retries == 0 and "401" in c.error and "***" in c.error and SECRET not in c.error
    assert SECRET not in repr(b.info()) and SECRET not in b.fingerprint() and SECRET not in repr(b.key)


def test_stream_yields_each_completion_as_it_finishes():
    reqs = sample_requests(4)
    slow = reqs[0].messages[-1].content
    # the slow answer takes 10 s: the others must come out long before it, however loaded the machine is
    with FakeChatServer(latency=lambda msgs: 10.0 if msgs[-1]["content"] == slow else 0.0) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, concurrency=8)
        try:
            t0 = time.perf_counter()
            order, first_at = [], None
            for i, _c in b.stream(reqs):
                first_at = first_at or time.perf_counter() - t0
                order.append(i)
        finally:
            b.close()
    assert order[-1] == 0 and sorted(order) == list(range(len(reqs)))
    assert first_at < 5.0  # a stream that waited for the whole batch would yield nothing before 10 s


def test_closing_a_stream_cancels_what_is_in_flight_and_close_leaves_no_thread():
    reqs = sample_requests(20)
    with FakeChatServer(latency=0.3) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, concurrency=4)
        it = b.stream(reqs)
        got = [next(it), next(it)]
        it.close()
        b.close()
        assert api_threads() == []
        time.sleep(0.5)
        assert len(srv.log) <= 12  # nothing new was started after the close
    assert all(c.error is None for _, c in got)


def test_keyboard_interrupt_mid_stream_keeps_what_was_yielded():
    reqs = sample_requests(20)
    got = []
    with FakeChatServer(latency=1.0) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, concurrency=4)
        timer = threading.Timer(0.1, _thread.interrupt_main)  # started at the first answer: the stream is mid-way
        with pytest.raises(KeyboardInterrupt):
            for i, c in b.stream(reqs):
                got.append((i, c))
                if len(got) == 1:
                    timer.start()
        b.close()
    assert 0 < len(got) < len(reqs)
    assert all(c.error is None and c.text == scripted_reply(reqs[i]) for i, c in got)
    assert api_threads() == []


def make_request(**kw) -> JudgeRequest:
    base = {"key": "k1", "example_id": "e1", "choices": ("A", "B"),
            "messages": (Message("system", "You judge."), Message("user", "Which? A or B"))}
    return JudgeRequest(**{**base, **kw})


def test_payload_sampling_prefix_and_extra_body():
    req = make_request(answer_prefix="Verdict: [[", truncatable=("one", "two"),
                       sampling=SamplingParams(max_tokens=7, temperature=0.3, top_p=0.9, seed=11, stop=("]]",)))
    with FakeChatServer() as srv:
        for opts in ({}, {"prefix_mode": "user", "extra_body": {"top_k": 1}, "judgebench_meta": True,
                          "max_tokens_param": "max_completion_tokens"}, {"prefix_mode": "ignore"}):
            b = OpenAIBackend("judge-test", base_url=srv.url, **opts)
            try:
                assert b.generate([req])[0].error is None
            finally:
                b.close()
    plain, user, ignore = srv.bodies
    assert plain["messages"][-1] == {"role": "assistant", "content": "Verdict: [["}
    assert (plain["max_tokens"], plain["temperature"], plain["top_p"], plain["seed"], plain["stop"]) == (7, 0.3, 0.9, 11, ["]]"])
    assert "logprobs" not in plain and "judgebench" not in plain
    assert user["messages"][-1] == {"role": "user", "content": "Which? A or B\n\nVerdict: [["}
    assert user["top_k"] == 1 and user["max_completion_tokens"] == 7 and "max_tokens" not in user
    assert user["judgebench"] == {"choices": ["A", "B"], "candidates": ["one", "two"]}
    assert [m["role"] for m in ignore["messages"]] == ["system", "user"]


def test_choice_logprobs_map_top_tokens_with_floor_and_fall_back_to_text():
    tops = {"both": [(" A", -0.7), ("A", -1.2), ("B", -2.0), ("The", -4.0)],
            "one": [("A", -0.1), ("The", -3.0)],
            "none": [("The", -0.1), ("I", -3.0)]}

    def top(msgs, text):
        return tops[msgs[-1]["content"]]

    reqs = [make_request(key=k, messages=(Message("user", k),)) for k in tops]
    with FakeChatServer(top_logprobs=top) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, top_logprobs=5)
        floored = OpenAIBackend("judge-test", base_url=srv.url, logprob_floor=-30.0)
        try:
            both, one, none = b.choice_logprobs(reqs)
            one_fixed = floored.choice_logprobs(reqs[1:2])[0]
        finally:
            b.close()
            floored.close()
    assert srv.bodies[0]["logprobs"] is True and srv.bodies[0]["top_logprobs"] == 5 and srv.bodies[0]["max_tokens"] == 1
    assert both.choice_logprobs == pytest.approx({"A": math.log(math.exp(-0.7) + math.exp(-1.2)), "B": -2.0})
    bound = min(-3.0, math.log(1 - math.exp(-0.1) - math.exp(-3.0)))
    assert one.choice_logprobs["A"] == -0.1 and one.choice_logprobs["B"] == pytest.approx(bound, abs=1e-5)
    assert one.choice_logprobs["B"] < bound
    assert one_fixed.choice_logprobs == {"A": -0.1, "B": -30.0}
    assert none.choice_logprobs is None and none.text == "The" and none.error is None
    (task,) = prepare_tasks("sample", split="test", limit=1, mode="choice")
    assert task.protocol.parse(task.protocol.expand(task.examples[0])[0], none).status == "parse_error"


def test_endpoint_without_logprobs_gives_an_error_without_retrying():
    with FakeChatServer(logprobs=False) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url)
        try:
            (c,) = b.choice_logprobs([make_request()])
        finally:
            b.close()
    assert len(srv.log) == 1 and c.retries == 0 and "no logprobs" in c.error


def test_usage_is_estimated_when_the_server_reports_none():
    req = make_request()
    with FakeChatServer(usage=False) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, input_per_mtok=1.0, output_per_mtok=1.0)
        try:
            (c,) = b.generate([req])
        finally:
            b.close()
    assert c.extra["usage_estimated"] is True
    assert c.usage.prompt_tokens == len("You judge.\nWhich? A or B") // 4
    assert c.usage.cost_usd == pytest.approx((c.usage.prompt_tokens + c.usage.completion_tokens) / 1e6)


def test_options_are_validated_and_keys_never_are_options(monkeypatch):
    with pytest.raises(ConfigError, match=r"backend 'openai': unknown option 'concurency'; allowed: .*concurrency"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", concurency=4)
    with pytest.raises(ConfigError, match="never passed as options"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key="sk-x")
    with pytest.raises(ConfigError, match="concurrency"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", concurrency=0)
    with pytest.raises(ConfigError, match="both input_per_mtok and output_per_mtok"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", input_per_mtok=1.0)
    with pytest.raises(ConfigError, match="needs a model"):
        OpenAIBackend(None)
    with pytest.raises(ConfigError, match="no API key: set the environment variable OPENAI_API_KEY"):
        OpenAIBackend("gpt-4o")  # the real OpenAI endpoint needs a key
    with pytest.raises(ConfigError, match="MISSING_KEY_VAR"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env="MISSING_KEY_VAR")
    b = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", concurrency=8)
    assert b.batch_size == 32 and b.info()["api_key_source"] == "none"
    # how we ask (concurrency, timeout, prices) does not change the cache identity; what we ask does
    same = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", concurrency=2, timeout=5, input_per_mtok=1,
                         output_per_mtok=1)
    other = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", prefix_mode="user")
    assert b.fingerprint() == same.fingerprint() != other.fingerprint()


@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_key_from_the_credentials_file(tmp_path, monkeypatch, fmt):
    f = tmp_path / f"credentials.{fmt}"
    f.write_text(f'MY_JUDGE_KEY = "{SECRET}"\n' if fmt == "toml" else f"MY_JUDGE_KEY: {SECRET}\n")
    f.chmod(0o600)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(f))
    monkeypatch.delenv("MY_JUDGE_KEY", raising=False)
    with FakeChatServer(api_key=SECRET) as srv:
        b = OpenAIBackend("judge-test", base_url=srv.url, api_key_env="MY_JUDGE_KEY")
        try:
            (c,) = b.generate([make_request()])
        finally:
            b.close()
    assert c.error is None and srv.log[0].auth == SECRET
    assert b.info()["api_key_source"] == "credentials:MY_JUDGE_KEY" and SECRET not in repr(b.info())


@pytest.mark.parametrize("module", ["openai", "httpx"])
def test_missing_api_extra_is_named(monkeypatch, module):
    from judgebench.errors import MissingExtra

    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(MissingExtra, match=r"backend 'openai' needs: pip install 'judgebench\[api\]'"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")


def test_redirects_and_cookies_behave_as_under_httpx():
    """The backend's lean httpx send: a 307 is followed (through httpx's own send) and a cookie the server sets
    is sent back on the next request, as the SDK's stock client would do."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append((self.path, self.headers.get("cookie") or ""))
            if self.path == "/old/chat/completions":
                self.send_response(307)
                self.send_header("location", "/v1/chat/completions")
                self.send_header("content-length", "0")
                self.end_headers()
                return
            data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": "[[A]]"}}],
                               "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("set-cookie", "lb=node7; Path=/")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    reqs = sample_requests(1)
    try:
        b = OpenAIBackend("judge-test", base_url=f"http://127.0.0.1:{srv.server_port}/old", concurrency=1)
        try:
            first = b.generate(reqs[:1])
            second = b.generate(reqs[1:2])
        finally:
            b.close()
    finally:
        srv.shutdown()
    assert [c.text for c in first + second] == ["[[A]]", "[[A]]"]
    assert [c.error for c in first + second] == [None, None]
    assert [p for p, _ in seen] == ["/old/chat/completions", "/v1/chat/completions"] * 2
    assert seen[0][1] == "" and seen[2][1] == "lb=node7"  # the cookie set by the first answer came back


def test_clients_share_one_tls_context_per_ca_setting(monkeypatch, tmp_path):
    """The CA bundle is loaded once per process (per SSL_CERT_FILE / SSL_CERT_DIR), not once per client: every
    client of the process verifies with the same context, built by httpx as it would build its own."""
    import shutil
    import ssl

    import certifi
    from judgebench_api import openai_backend as ob

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ctx = ob._shared_ssl_context()
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ob._shared_ssl_context() is ctx
    bundle = tmp_path / "ca.pem"
    shutil.copy(certifi.where(), bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # honoured as httpx honours it, with a context of its own
    other = ob._shared_ssl_context()
    assert other is not ctx and ob._shared_ssl_context() is other
    b = OpenAIBackend("judge-test", base_url="http://127.0.0.1:9/v1")
    try:
        client = b._make_client()
        assert client._client._transport.ssl_context is other  # the SDK's aiohttp transport (the [api] extra)
    finally:
        b.close()
