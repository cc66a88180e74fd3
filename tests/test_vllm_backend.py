"""The `vllm` backend without vLLM (no GPU, no vllm package here): everything but the engine calls, for real.

vLLM's offline engine (``vllm.LLM`` / ``LLM.generate``) cannot run on this machine, so the backend talks to it through
``engine.VLLMEngine`` only (token rows + SamplingParams keywords in, RequestOutputs out).  Here a stand-in with the
same three methods returns vLLM's documented output shapes (``RequestOutput``, ``CompletionOutput``,
``Logprob(logprob, rank, decoded_token)``, mirrored below as dataclasses) filled with numbers from a real forward pass
of SmolLM2-135M-Instruct through transformers, and the backend's choice log-probs, confidences, truncation,
generation text and fingerprint are checked against the hf backend on the same requests.  The stand-in gives only
what vLLM documents for ``prompt_logprobs=k``: the prompt token's log-prob and the top-k, nothing more.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch  # the [hf] extra is part of the test setup: fail, never skip, without it

from judgebench import ConfigError, MissingExtra, PluginError, SamplingParams
from judgebench import registry
from judgebench.types import stable_hash
from judgebench_hf import embedded
from judgebench_hf.backend import HFBackend
from judgebench_hf.choices import plan
from judgebench_hf.prompting import MARKER
from judgebench_vllm import engine as vengine
from judgebench_vllm.backend import KIND, VLLMBackend
from judgebench_vllm.convert import (SCORING_KWARGS, choice_scores, generation_completion, generation_kwargs,
                                     row_dists, score_rows, token_prompt)
from judgebench_vllm.options import VLLMOptions

from .conftest import cli
from .test_hf_support import llmbar_examples, pairwise_requests, rating_requests

#: the keyword fields of vllm.SamplingParams, as read in vllm/sampling_params.py (class SamplingParams)
SAMPLING_FIELDS = {
    "n", "presence_penalty", "frequency_penalty", "repetition_penalty", "temperature", "top_p", "top_k", "min_p",
    "seed", "stop", "stop_token_ids", "ignore_eos", "max_tokens", "min_tokens", "logprobs", "prompt_logprobs",
    "detokenize", "skip_special_tokens", "spaces_between_special_tokens", "include_stop_str_in_output",
    "output_kind", "logit_bias", "allowed_token_ids", "bad_words",
}
#: the keyword parameters of vllm.LLM(...) used here: LLM.__init__ (vllm/entrypoints/llm.py) and EngineArgs
#: (vllm/engine/arg_utils.py: --max-model-len, --enable-prefix-caching)
LLM_KWARGS = {"model", "dtype", "seed", "gpu_memory_utilization", "tensor_parallel_size", "enable_prefix_caching",
              "enforce_eager", "trust_remote_code", "max_model_len", "revision"}


# -- vLLM's output shapes (vllm/logprobs.py, vllm/outputs.py) ------------------------------------------------------
@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: Any
    finish_reason: str | None = None
    stop_reason: Any = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, Logprob] | None] | None
    outputs: list[CompletionOutput]
    finished: bool = True


class HFEngine:
    """Stands in for ``VLLMEngine``: vLLM's shapes, numbers from a real transformers forward pass of SmolLM2."""

    lm: Any = None  # the model (shared with the hf backend under comparison)
    tok: Any = None
    calls: list[tuple[list[list[int]], list[dict[str, Any]]]] = []

    def __init__(self, opts: VLLMOptions) -> None:
        self.opts = opts

    @staticmethod
    def require(who: str) -> None:
        return None

    @classmethod
    def start(cls, who: str, source: str, label: str, opts: VLLMOptions) -> "HFEngine":
        assert set(vengine.engine_kwargs(source, opts)) <= LLM_KWARGS
        return cls(opts)

    def facts(self) -> dict[str, Any]:
        dtype = "float32" if self.opts.dtype in ("auto", "float32") else self.opts.dtype
        return {"max_model_len": self.opts.max_length or 8192, "dtype": dtype, "vllm": "stand-in"}

    def close(self) -> None:
        pass

    def generate(self, rows: list[list[int]], params: list[dict[str, Any]]) -> list[RequestOutput]:
        type(self).calls.append((rows, params))
        assert len(rows) == len(params)
        out = []
        for n, (row, p) in enumerate(zip(rows, params)):
            assert set(p) <= SAMPLING_FIELDS, set(p) - SAMPLING_FIELDS
            assert token_prompt(row) == {"prompt_token_ids": list(row)}
            assert len(row) + 1 <= (self.opts.max_length or 8192)
            out.append(self._score(n, row, p) if p.get("prompt_logprobs") is not None else self._generate(n, row, p))
        return out

    def _score(self, n: int, row: list[int], p: dict[str, Any]) -> RequestOutput:
        k = int(p["prompt_logprobs"])
        with torch.inference_mode():
            logits = self.lm(input_ids=torch.tensor([row])).logits[0].float()
        lp = torch.log_softmax(logits, dim=-1)
        plps: list[dict[int, Logprob] | None] = [None]
        for j in range(1, len(row)):
            dist = lp[j - 1]
            tok = row[j]
            top = torch.topk(dist, k)
            d = {int(t): Logprob(float(v), r + 1) for r, (v, t) in enumerate(zip(top.values, top.indices))}
            d[tok] = Logprob(float(dist[tok]), int((dist > dist[tok]).sum()) + 1)  # always present, whatever its rank
            plps.append(d)
        nxt = int(lp[-1].argmax())
        return RequestOutput(str(n), None, list(row), plps, [CompletionOutput(0, "", [nxt], None, None, "length")])

    def _generate(self, n: int, row: list[int], p: dict[str, Any]) -> RequestOutput:
        assert p["temperature"] == 0.0 and "seed" not in p  # greedy requests carry no seed
        stops = set(p.get("stop_token_ids") or [])
        with torch.inference_mode():
            gen = self.lm.generate(input_ids=torch.tensor([row]), attention_mask=torch.ones(1, len(row), dtype=torch.long),
                                   max_new_tokens=p["max_tokens"], do_sample=False, eos_token_id=sorted(stops),
                                   pad_token_id=self.tok.pad_token_id)
        new = gen[0, len(row):].tolist()
        cut = next((i for i, t in enumerate(new) if t in stops), None)
        ids = new if cut is None else new[:cut + 1]
        text = self.tok.decode(ids, skip_special_tokens=True)
        for s in p.get("stop") or []:
            if s in text:
                text = text[:text.index(s)]
        return RequestOutput(str(n), None, list(row), None,
                             [CompletionOutput(0, text, ids, None, None, "length" if cut is None else "stop")])


class StandInVLLM(VLLMBackend):
    engine_class = HFEngine


# -- fixtures ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smol_dir(tmp_path_factory) -> Path:
    return embedded.ensure_smollm2(tmp_path_factory.getbasetemp() / "hf-models")


@pytest.fixture(scope="module")
def hf(smol_dir):
    b = HFBackend(str(smol_dir))
    HFEngine.lm, HFEngine.tok = b.lm, b.tokenizer
    return b


@pytest.fixture
def vb(hf, smol_dir):
    HFEngine.calls = []
    return StandInVLLM(str(smol_dir))


# -- options, keyword construction, output conversion (no model) -------------------------------------------------------
def test_options_parse_like_the_other_backends():
    with pytest.raises(ConfigError) as e:
        VLLMOptions.parse({"dtype": "bf16", "colour": "red"})
    assert "'colour'" in str(e.value) and "gpu_memory_utilization" in str(e.value) and "tensor_parallel_size" in str(e.value)
    o = VLLMOptions.parse({"dtype": "bf16", "max_length": 4096, "enable_prefix_caching": "false", "seed": 3,
                           "gpu_memory_utilization": 0.5, "tensor_parallel_size": 2})
    assert (o.dtype, o.max_length, o.enable_prefix_caching, o.seed, o.gpu_memory_utilization,
            o.tensor_parallel_size) == ("bfloat16", 4096, False, 3, 0.5, 2)
    for bad in ({"dtype": "int8"}, {"max_length": 0}, {"gpu_memory_utilization": 1.5}, {"tensor_parallel_size": 1.5},
                {"enforce_eager": "maybe"}, {"seed": -1}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            VLLMOptions.parse(bad)
    # only the output-affecting options reach the fingerprint
    assert VLLMOptions.parse({"gpu_memory_utilization": 0.3}).output_affecting("float16", 512) == \
        VLLMOptions.parse({}).output_affecting("float16", 512) == {"dtype": "float16", "max_length": 512, "revision": None}


def test_engine_and_sampling_keywords():
    kw = vengine.engine_kwargs("/m", VLLMOptions.parse({}))
    assert kw == {"model": "/m", "dtype": "auto", "seed": 0, "gpu_memory_utilization": 0.9, "tensor_parallel_size": 1,
                  "enable_prefix_caching": True, "enforce_eager": False, "trust_remote_code": False}
    kw = vengine.engine_kwargs("org/x", VLLMOptions.parse({"max_length": 2048, "revision": "abc", "dtype": "half"}))
    assert kw["max_model_len"] == 2048 and kw["revision"] == "abc" and kw["dtype"] == "float16"
    assert set(kw) <= LLM_KWARGS

    greedy = generation_kwargs(SamplingParams(max_tokens=16, temperature=0.0, seed=7), [2, 2, 1])
    assert greedy == {"max_tokens": 16, "temperature": 0.0, "top_p": 1.0, "stop_token_ids": [1, 2]}
    sampled = generation_kwargs(SamplingParams(max_tokens=4, temperature=0.7, top_p=0.9, seed=5, stop=("\n", "")))
    assert sampled == {"max_tokens": 4, "temperature": 0.7, "top_p": 0.9, "seed": 5, "stop": ["\n"]}
    assert set(greedy) | set(sampled) | set(SCORING_KWARGS) <= SAMPLING_FIELDS
    assert SCORING_KWARGS["prompt_logprobs"] >= 1 and SCORING_KWARGS["max_tokens"] == 1
    assert SCORING_KWARGS["temperature"] == 1.0 and SCORING_KWARGS["top_p"] == 1.0


def test_score_rows_cover_every_prefix_the_rule_reads():
    ab = plan(["A", "B"], [[10], [11]])
    assert score_rows(ab) == [(10,), (11,)]
    ratings = plan([str(i) for i in range(1, 11)], [[33], [34], [35], [36], [37], [38], [39], [40], [41], [33, 32]])
    rows = score_rows(ratings)
    assert (33,) not in rows and (33, 32) in rows and len(rows) == 9
    needed = {(s[:k], s[k]) for s in ratings.seqs for k in range(len(s))}
    needed |= {(s, t) for s, ts in ratings.children.items() for t in ts}
    covered = {(r[:k], r[k]) for r in rows for k in range(len(r))}
    assert needed <= covered


def test_prompt_logprobs_are_read_exactly_and_never_guessed():
    # a row of prompt [5, 6, 7] + choice tokens [33, 32]; entry j is log p(row[j] | row[:j]); entry 0 is None
    row = [5, 6, 7, 33, 32]
    plps = [None, {6: Logprob(-0.1, 1)}, {7: Logprob(-0.2, 1)},
            {33: Logprob(-2.5, 7), 9: Logprob(-0.3, 1)},  # the prompt token is there whatever its rank
            {32: Logprob(-0.05, 1)}]
    assert row_dists(plps, row, 3) == {(): {33: -2.5}, (33,): {32: -0.05}}
    with pytest.raises(ValueError, match="lack the prompt token 32"):
        row_dists(plps[:4] + [{9: Logprob(-0.01, 1)}], row, 3)
    with pytest.raises(ValueError, match="5 prompt log-prob entries for a row of 6"):
        row_dists(plps, row + [1], 3)
    with pytest.raises(ValueError, match="no prompt_logprobs"):
        row_dists(None, row, 3)

    # the multi-token rule over two rows: "1" = [33] not followed by [32]; "10" = [33, 32]; "2" = [34]
    p = plan(["1", "10", "2"], [[33], [33, 32], [34]])
    rows = [[5, 6, 7, *s] for s in score_rows(p)]
    outs = [RequestOutput("0", None, rows[0], plps, []),
            RequestOutput("1", None, rows[1], [None, {6: Logprob(-0.1)}, {7: Logprob(-0.2)}, {34: Logprob(-1.5)}], [])]
    got = choice_scores(p, rows, outs, 3)
    assert got["10"] == pytest.approx(-2.5 - 0.05)
    assert got["1"] == pytest.approx(-2.5 + math.log(1 - math.exp(-0.05)))
    assert got["2"] == pytest.approx(-1.5)
    outs[1].prompt_token_ids = rows[1][:-1] + [35]
    with pytest.raises(ValueError, match="different prompt tokens"):
        choice_scores(p, rows, outs, 3)


def test_generation_output_becomes_a_completion():
    out = RequestOutput("0", None, [1, 2, 3], None, [CompletionOutput(0, "A. Because\nmore", [330, 30, 2], None, None,
                                                                      "stop")])
    c = generation_completion(out, 3, ("\n",), True, 0.25)
    assert (c.text, c.usage.prompt_tokens, c.usage.completion_tokens, c.truncated, c.latency_s) == \
        ("A. Because", 3, 3, True, 0.25)
    assert c.extra == {"finish_reason": "stop"} and c.error is None and c.choice_logprobs is None
    with pytest.raises(ValueError, match="without outputs"):
        generation_completion(RequestOutput("0", None, [1], None, []), 1, (), False, 0.0)


def test_engine_wrapper_calls_vllm_as_documented():
    """VLLMEngine with recording stand-ins for the vllm module and LLM object (the real ones cannot run here)."""
    seen: dict[str, Any] = {}

    class FakeLLM:
        def __init__(self, **kw):
            seen["llm"] = kw
            self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=4096, dtype=torch.bfloat16))

        def generate(self, prompts, sampling_params, *, use_tqdm=True):
            seen["generate"] = (prompts, sampling_params, use_tqdm)
            return ["out"] * len(prompts)

    fake_vllm = SimpleNamespace(LLM=FakeLLM, SamplingParams=lambda **kw: ("SP", kw), __version__="0.0-test")
    e = vengine.VLLMEngine(fake_vllm, FakeLLM(**vengine.engine_kwargs("/m", VLLMOptions.parse({}))))
    assert seen["llm"]["model"] == "/m"
    assert e.generate([[1, 2], [3]], [{"max_tokens": 1}, {"max_tokens": 2}]) == ["out", "out"]
    prompts, sps, tqdm = seen["generate"]
    assert prompts == [{"prompt_token_ids": [1, 2]}, {"prompt_token_ids": [3]}] and tqdm is False
    assert sps == [("SP", {"max_tokens": 1}), ("SP", {"max_tokens": 2})]
    assert e.generate([], []) == []
    assert e.facts() == {"max_model_len": 4096, "dtype": "bfloat16", "vllm": "0.0-test"}
    assert vengine.engine_facts(SimpleNamespace()) == {"max_model_len": None, "dtype": None}
    e.close()
    assert e.llm is None


def test_missing_vllm_is_a_clear_error_not_a_traceback(tmp_path):
    assert importlib.util.find_spec("vllm") is None, "this test checks the message users get without vllm (as on CI)"
    with pytest.raises(MissingExtra, match=r"pip install 'judgebench\[vllm\]'"):
        vengine.require("backend 'vllm'")
    p = cli("run", "--backend", "vllm:smollm2", "--task", "sample", "--runs-root", str(tmp_path), timeout=300)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "backend 'vllm' needs: pip install 'judgebench[vllm]'" in p.stderr and "Traceback" not in p.stderr
    # it failed before converting the embedded model (the conversion would have written under the cache dir)
    assert not (Path(os.environ["JUDGEBENCH_CACHE_DIR"]) / "models").exists()


def test_plugin_is_registered_and_imports_light():
    assert registry.load("backend", "vllm") is VLLMBackend
    code = ("import sys, judgebench_vllm.backend, judgebench_vllm.engine, judgebench_vllm.convert; "
            "print(' '.join(m for m in ('vllm', 'torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_an_engine_that_fails_to_start_is_a_plugin_error(smol_dir, monkeypatch):
    """VLLMEngine.start with a stand-in vllm module whose LLM raises as vLLM does on a machine without a GPU."""
    def no_gpu(**kw):
        assert set(kw) <= LLM_KWARGS
        raise RuntimeError("Failed to infer device type")

    fake_vllm = SimpleNamespace(LLM=no_gpu)
    monkeypatch.setattr(vengine, "require", lambda who: fake_vllm)

    class B(VLLMBackend):
        engine_class = type("E", (vengine.VLLMEngine,), {"require": staticmethod(lambda who: fake_vllm)})

    with pytest.raises(PluginError, match="could not start the engine .*RuntimeError: Failed to infer device type"):
        B(str(smol_dir))


# -- against the hf backend, with a real SmolLM2 forward pass ---------------------------------------------------------
@pytest.mark.slow
def test_pairwise_choice_logprobs_equal_the_hf_backend(hf, vb):
    proto, reqs = pairwise_requests(llmbar_examples(3) + llmbar_examples(1, "Adversarial/Neighbor"))
    ours, theirs = vb.choice_logprobs(reqs), hf.choice_logprobs(reqs)
    rows, params = HFEngine.calls[-1]
    assert len(rows) == 2 * len(reqs) and all(p == SCORING_KWARGS for p in params)  # one row per choice, exact
    for req, a, b in zip(reqs, ours, theirs):
        assert a.error is None and set(a.choice_logprobs) == {"A", "B"}
        for c in ("A", "B"):
            assert a.choice_logprobs[c] == pytest.approx(b.choice_logprobs[c], abs=1e-3)
        assert a.usage.prompt_tokens == b.usage.prompt_tokens and not a.truncated
        ja, jb = proto.parse(req, a), proto.parse(req, b)  # the confidence: the protocol's softmax, as for hf
        assert ja.status == "ok" and ja.verdict == jb.verdict and ja.confidence == pytest.approx(jb.confidence, abs=1e-3)
    # the rows are the rendered prompt + the choice token, exactly
    prompt = vb.prompts.build(reqs[0], 10**6).ids
    a_tok, b_tok = vb.plan_for(vb.prompts.render([(m.role, m.content) for m in reqs[0].messages],
                                                 reqs[0].answer_prefix)[-32:], ("A", "B")).seqs
    assert rows[:2] == [prompt + list(a_tok), prompt + list(b_tok)]


@pytest.mark.slow
def test_rating_choices_1_to_10_equal_the_hf_backend(hf, vb):
    _, reqs = rating_requests(llmbar_examples(1, start=5))
    ours, theirs = vb.choice_logprobs(reqs), hf.choice_logprobs(reqs)
    text = vb.prompts.render([(m.role, m.content) for m in reqs[0].messages], reqs[0].answer_prefix)
    p = vb.plan_for(text[-32:], reqs[0].choices)
    assert p.children, "SmolLM2 must tokenise '10' as '1' + '0' for this test to exercise the multi-token rule"
    assert len(HFEngine.calls[-1][0]) == len(reqs) * len(score_rows(p))
    for a, b in zip(ours, theirs):
        assert a.error is None and set(a.choice_logprobs) == {str(i) for i in range(1, 11)}
        for c in a.choice_logprobs:
            assert a.choice_logprobs[c] == pytest.approx(b.choice_logprobs[c], abs=1e-3)
        assert sum(math.exp(v) for v in a.choice_logprobs.values()) <= 1 + 1e-6


@pytest.mark.slow
def test_truncation_is_the_prompt_builders_and_rows_fit(smol_dir, hf):
    HFEngine.calls = []
    long_pairs = [e for e in llmbar_examples(100) if min(map(len, e.candidates)) > 700][:1]
    _, reqs = pairwise_requests(long_pairs)
    b = StandInVLLM(str(smol_dir), max_length=320)
    res = b.choice_logprobs(reqs)
    rows, _ = HFEngine.calls[-1]
    assert all(c.error is None and c.truncated for c in res)
    assert all(len(r) + 1 <= 320 for r in rows)  # prompt + choice + the one generated token fit max_model_len
    built = b.prompts.build(reqs[0], 320 - 2)
    assert built.truncated and built.text.count(MARKER) == 2 and rows[0][:-1] == built.ids
    # a budget nothing can meet is a per-request error, and the request is not sent
    HFEngine.calls = []
    tiny = StandInVLLM(str(smol_dir), max_length=40)
    c = tiny.choice_logprobs(reqs[:1])[0]
    assert c.error and "cannot fit" in c.error and HFEngine.calls == [([], [])]


@pytest.mark.slow
def test_generation_matches_the_hf_backend(hf, vb):
    _, reqs = pairwise_requests(llmbar_examples(2, start=10), mode="generate", max_tokens=6)
    ours, theirs = vb.generate(reqs), hf.generate(reqs)
    _, params = HFEngine.calls[-1]
    assert all(p["stop_token_ids"] == hf.generator.eos for p in params)  # the hf backend's end-of-turn tokens
    for a, b in zip(ours, theirs):
        assert a.error is None and a.text == b.text
        assert (a.usage.prompt_tokens, a.usage.completion_tokens) == (b.usage.prompt_tokens, b.usage.completion_tokens)


@pytest.mark.slow
def test_fingerprint_has_the_hf_ingredients_under_its_own_name(hf, vb, smol_dir):
    parts = vb.fingerprint_parts()
    assert parts["kind"] == KIND != "hf-causal-lm"
    assert parts["weights"] == hf.src.digest(None) and parts["tokenizer"] == hf.tokenizer_digest()
    assert parts["options"] == {"dtype": "float32", "max_length": hf.max_length, "revision": None}
    # the same recipe as hf's fingerprint: only the backend name differs, so the two are cached apart
    assert stable_hash({**parts, "kind": "hf-causal-lm"}) == hf.fingerprint() != vb.fingerprint()
    assert StandInVLLM(str(smol_dir), gpu_memory_utilization=0.5, enforce_eager=True).fingerprint() == vb.fingerprint()
    assert StandInVLLM(str(smol_dir), dtype="bfloat16").fingerprint() != vb.fingerprint()
    assert StandInVLLM(str(smol_dir), max_length=1024).fingerprint() != vb.fingerprint()
    info = vb.info()
    assert info["fingerprint"] == vb.fingerprint() and info["dtype"] == "float32" and info["max_length"] == 8192
    assert json.dumps(info) and vb.count_tokens("Hello world") == hf.count_tokens("Hello world")
    vb.close()
    assert vb.engine is None
