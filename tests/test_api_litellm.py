"""The `litellm` backend through litellm's OpenAI-compatible route to the same loopback server; prices and tokens."""
from __future__ import annotations

import math

import pytest
from judgebench_api.litellm_backend import LiteLLMBackend
from judgebench_api.openai_backend import OpenAIBackend
from judgebench_api.testing import FakeChatServer

from judgebench.errors import ConfigError

from .api_helpers import SECRET, api_threads, sample_requests, scripted_reply


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "no-credentials.toml"))


def test_faults_are_retried_through_tenacity_and_counted():
    reqs = sample_requests(100)
    # a "timeout" fault never answers within the client's timeout (hang 60 s vs 5 s), and a normal answer comes well
    # inside it even on a loaded machine: with the old 1.0 s hang vs 0.5 s timeout, a client starved of CPU read
    # the late answer as a success, so the served faults and the counted retries disagreed
    with FakeChatServer(fault_rate=0.3, retry_after=1.5, hang_s=60.0) as srv:
        b = LiteLLMBackend("openai/judge-test", base_url=srv.url, concurrency=32, timeout=5.0)
        try:
            got = dict(b.stream(reqs))
        finally:
            b.close()
    outcomes = srv.outcomes()
    faults = sum(v for k, v in outcomes.items() if k != "ok")
    assert faults > 30 and outcomes["ok"] == len(reqs)
    assert [c.error for c in got.values() if c.error] == []
    assert [got[i].text for i in range(len(reqs))] == [scripted_reply(r) for r in reqs]
    assert sum(c.retries for c in got.values()) == faults
    by_body: dict[str, list] = {}
    for s in srv.log:
        by_body.setdefault(s.body, []).append(s)
    gaps = [seq[1].t - seq[0].t for seq in by_body.values() if seq[0].outcome == "429"]
    assert gaps and min(gaps) >= 1.45  # Retry-After honoured (our backoff alone waits at most 1 s first)
    assert all(c.usage.prompt_tokens > 0 and c.usage.completion_tokens == 1 for c in got.values())


def test_choice_logprobs_and_close_releases_litellm_clients():
    import litellm

    reqs = sample_requests(3, mode="choice")
    with FakeChatServer() as srv:
        b = LiteLLMBackend("openai/judge-test", base_url=srv.url)
        out = b.choice_logprobs(reqs)
        loop_id = id(b._loop.loop)
        b.close()
    for req, c in zip(reqs, out):
        best = scripted_reply(req)[2]
        assert c.error is None and max(c.choice_logprobs, key=c.choice_logprobs.get) == best
        # "A" and " A" are both the verdict A: their probabilities add up
        assert c.choice_logprobs[best] == pytest.approx(math.log(math.exp(-0.05) + math.exp(-4.1)))
        assert set(c.choice_logprobs) == {"A", "B"}
    assert srv.bodies[0]["logprobs"] is True and srv.bodies[0]["top_logprobs"] == 20
    assert not [k for k in litellm.in_memory_llm_clients_cache.cache_dict if str(k).endswith(f"-{loop_id}")]
    assert api_threads() == []


def test_key_from_api_key_env_and_redacted_errors(monkeypatch):
    monkeypatch.setenv("JB_LITELLM_KEY", SECRET)
    reqs = sample_requests(1)
    with FakeChatServer(api_key=SECRET) as good, FakeChatServer(api_key="another-key-123456") as bad:
        ok = LiteLLMBackend("openai/judge-test", base_url=good.url, api_key_env="JB_LITELLM_KEY")
        refused = LiteLLMBackend("openai/judge-test", base_url=bad.url, api_key_env="JB_LITELLM_KEY")
        try:
            assert all(c.error is None for c in ok.generate(reqs))
            errs = refused.generate(reqs)
        finally:
            ok.close()
            refused.close()
    assert good.log[0].auth == SECRET
    assert all(c.error and c.retries == 0 and SECRET not in c.error and "***" in c.error for c in errs)
    assert ok.info()["api_key_source"] == "env:JB_LITELLM_KEY" and SECRET not in repr(ok.info())


def test_missing_provider_key_is_a_config_error():
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        LiteLLMBackend("openai/gpt-4o")


def test_prices_come_from_litellms_map_unless_configured_and_tokens_from_tiktoken(monkeypatch):
    import litellm
    import tiktoken

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    entry = litellm.model_cost["gpt-4o"]
    want = (entry["input_cost_per_token"] * 1e6, entry["output_cost_per_token"] * 1e6)
    for b in (OpenAIBackend("gpt-4o"), LiteLLMBackend("openai/gpt-4o")):
        assert b.prices() == pytest.approx(want) and b.price_source() == "litellm model price map"
        text = "Which response follows the instruction better? Answer [[A]] or [[B]]."
        assert b.count_tokens(text) == len(tiktoken.get_encoding("o200k_base").encode(text))
        assert b.info()["token_counter"] == "tiktoken:o200k_base"
        b.close()
    mine = OpenAIBackend("gpt-4o", input_per_mtok=0.5, output_per_mtok=1.5)
    assert mine.prices() == (0.5, 1.5) and mine.price_source().startswith("options")
    unknown = OpenAIBackend("my-local-judge", base_url="http://127.0.0.1:9/v1")
    assert unknown.prices() is None and unknown.count_tokens("x" * 40) == 10
    assert unknown.info()["token_counter"] == "chars/4"


def test_litellm_route_cost_matches_usage():
    reqs = sample_requests(2)
    with FakeChatServer() as srv:
        b = LiteLLMBackend("openai/judge-test", base_url=srv.url, input_per_mtok=3.0, output_per_mtok=15.0)
        try:
            out = b.generate(reqs)
        finally:
            b.close()
    for c in out:
        assert c.usage.cost_usd == pytest.approx((c.usage.prompt_tokens * 3.0 + c.usage.completion_tokens * 15.0) / 1e6)
    assert api_threads() == []
