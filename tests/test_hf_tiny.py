"""hf backend on a tiny real Llama (SmolLM2's tokenizer): scoring, batching, padding, generation, truncation."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest

import torch

from judgebench import ConfigError  # noqa: E402
from judgebench_hf.backend import HFBackend  # noqa: E402
from judgebench_hf.prompting import MARKER  # noqa: E402

from .test_hf_support import llmbar_examples, pairwise_requests, rating_requests, tiny_dir  # noqa: E402,F401


@pytest.fixture(scope="module")
def backend(tiny_dir):  # noqa: F811
    return HFBackend(str(tiny_dir))


@pytest.fixture(scope="module")
def batched(tiny_dir):  # noqa: F811
    """The GPU default (length-sorted padded batches) forced on the CPU."""
    return HFBackend(str(tiny_dir), scoring="batched")


def reference_logprobs(b: HFBackend, ids: list[int]) -> torch.Tensor:
    """Next-token log-probs after ``ids``: one unbatched, unpadded forward over the full logits."""
    with torch.no_grad():
        logits = b.lm(torch.tensor([ids])).logits[0, -1]
    return torch.log_softmax(logits.float(), -1)


def chat_ids(b: HFBackend, req) -> list[int]:
    """The prompt tokenised independently of the backend: the tokenizer's own chat-template tokenisation."""
    msgs = [{"role": m.role, "content": m.content} for m in req.messages]
    out = b.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(out["input_ids"]) + b.tokenizer(req.answer_prefix, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("which", ["backend", "batched"])
def test_choice_scores_equal_unbatched_reference(which, request):
    backend = request.getfixturevalue(which)
    _, reqs = pairwise_requests(llmbar_examples(5))
    comps = backend.choice_logprobs(reqs)
    a_id, b_id = backend.tokenizer.convert_tokens_to_ids(["A", "B"])
    lengths = set()
    for req, comp in zip(reqs, comps):
        ids = chat_ids(backend, req)
        lengths.add(len(ids))
        ref = reference_logprobs(backend, ids)
        assert comp.error is None and not comp.truncated
        assert comp.choice_logprobs["A"] == pytest.approx(ref[a_id].item(), abs=2e-4)
        assert comp.choice_logprobs["B"] == pytest.approx(ref[b_id].item(), abs=2e-4)
        assert comp.usage.prompt_tokens == len(ids)
    assert len(lengths) >= 4  # prompts of mixed lengths (batched: left padding exercised)
    assert backend.scorer.shared_tokens > 0  # sequential: consecutive prompts; batched: each batch's prefix


@pytest.mark.parametrize("opts", [{"scoring": "batched", "max_batch_tokens": 1}, {"prefix_sharing": False},
                                  {"scoring": "batched", "max_batch_size": 3},
                                  {"scoring": "batched", "prefix_sharing": False}])
def test_batching_and_prefix_sharing_do_not_change_scores(tiny_dir, backend, opts):  # noqa: F811
    _, reqs = pairwise_requests(llmbar_examples(6, "Adversarial/Neighbor"))
    base = backend.choice_logprobs(reqs)
    other = HFBackend(str(tiny_dir), **opts).choice_logprobs(reqs)
    for x, y in zip(base, other):
        for c in ("A", "B"):
            assert x.choice_logprobs[c] == pytest.approx(y.choice_logprobs[c], abs=2e-4)
    assert backend.scorer.shared_tokens > 0  # the default run did share a prefix


@pytest.mark.parametrize("which", ["backend", "batched"])
def test_multi_token_choices_one_vs_ten(which, request):
    backend = request.getfixturevalue(which)
    _, reqs = rating_requests(llmbar_examples(2))
    comps = backend.choice_logprobs(reqs)
    tok = backend.tokenizer
    digit = {d: tok.convert_tokens_to_ids(d) for d in "0123456789"}
    assert tok("10", add_special_tokens=False)["input_ids"] == [digit["1"], digit["0"]]
    for req, comp in zip(reqs, comps):
        ids = chat_ids(backend, req)
        first = reference_logprobs(backend, ids)
        after_one = reference_logprobs(backend, ids + [digit["1"]])
        lp = comp.choice_logprobs
        assert lp["10"] == pytest.approx((first[digit["1"]] + after_one[digit["0"]]).item(), abs=2e-4)
        p_one = math.exp(first[digit["1"]].item()) * (1 - math.exp(after_one[digit["0"]].item()))
        assert lp["1"] == pytest.approx(math.log(p_one), abs=2e-4)
        assert lp["5"] == pytest.approx(first[digit["5"]].item(), abs=2e-4)
        total = sum(math.exp(v) for v in lp.values())
        first_digits = sum(math.exp(first[digit[d]].item()) for d in "123456789")
        assert total == pytest.approx(first_digits, rel=1e-3)  # "1" and "10" share p("1") without overlap


def test_generation_batched_equals_one_by_one(tiny_dir, backend):  # noqa: F811
    _, reqs = pairwise_requests(llmbar_examples(4, "Adversarial/GPTInst"), mode="generate", max_tokens=6)
    batched = backend.generate(reqs)
    single = HFBackend(str(tiny_dir), max_batch_tokens=1).generate(reqs)
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(c.usage.completion_tokens <= 6 and c.text for c in batched)
    # greedy generation continues the reference's argmax
    ids = chat_ids(backend, reqs[0])
    first = backend.tokenizer.decode([int(reference_logprobs(backend, ids).argmax())])
    assert batched[0].text.startswith(first.strip()) or batched[0].text.startswith(first)


def test_sampling_is_seeded_and_stop_strings_cut(backend):
    _, reqs = pairwise_requests(llmbar_examples(2), mode="generate", max_tokens=8, temperature=1.0, seed=7)
    a = [c.text for c in backend.generate(reqs)]
    b = [c.text for c in backend.generate(reqs)]
    other = [replace(r, sampling=replace(r.sampling, seed=8)) for r in reqs]
    c = [x.text for x in backend.generate(other)]
    assert a == b and a != c
    greedy = [replace(r, sampling=replace(r.sampling, temperature=0.0)) for r in reqs]
    full = backend.generate(greedy)[0].text
    stop = full[len(full) // 2:][:3]
    assert stop and stop in full
    stopped = backend.generate([replace(greedy[0], sampling=replace(greedy[0].sampling, stop=(stop,)))])[0].text
    assert stopped == full[:full.index(stop)]


def test_truncation_keeps_instructions_and_answer_slot(tiny_dir):  # noqa: F811
    _, reqs = pairwise_requests(llmbar_examples(10), mode="generate", max_tokens=4)
    b = HFBackend(str(tiny_dir), max_length=200)
    checked = 0
    for comps, budget in ((b.generate(reqs), 196), (b.choice_logprobs(reqs), 200)):  # generation reserves 4 tokens
        for req, comp in zip(reqs, comps):
            p = b.prompts.build(req, budget)
            if len(chat_ids(b, req)) <= budget:
                assert not comp.truncated and p.text == b.prompts.render([(m.role, m.content) for m in req.messages], "")
                continue
            if p.error:  # the instructions alone do not fit: an error, never a silently cut instruction
                assert comp.error == p.error and "cannot fit max_length" in comp.error
                continue
            checked += 1
            assert comp.truncated and comp.error is None and len(p.ids) <= budget
            assert comp.usage.prompt_tokens == len(p.ids)
            user = req.messages[-1].content
            head, tail = user.split(req.truncatable[0])[0], user.split(req.truncatable[-1])[-1]
            assert head in p.text and p.text.endswith(tail + "<|im_end|>\n<|im_start|>assistant\n")
            assert MARKER in p.text
    assert checked >= 6


def test_truncation_cuts_the_longer_candidate_first(tiny_dir):  # noqa: F811
    [ex] = [e for e in llmbar_examples(100) if len(e.candidates[0]) > 3 * len(e.candidates[1]) > 150][:1]
    _, reqs = pairwise_requests([ex], mode="generate", max_tokens=1)
    b = HFBackend(str(tiny_dir))
    full = len(b.prompts.build(reqs[0], 10**6).ids)
    p = b.prompts.build(reqs[0], full - 20)
    assert p.truncated and ex.candidates[1] in p.text and ex.candidates[0] not in p.text
    assert p.text.count(MARKER) == 1 and full - 20 - 3 <= len(p.ids) <= full - 20


def test_prompt_that_cannot_fit_is_an_error(tiny_dir):  # noqa: F811
    _, reqs = pairwise_requests(llmbar_examples(1), mode="choice")
    comp = HFBackend(str(tiny_dir), max_length=40).choice_logprobs(reqs)[0]
    assert comp.error and "max_length" in comp.error and comp.choice_logprobs is None


def test_unknown_option_is_a_config_error(tiny_dir):  # noqa: F811
    with pytest.raises(ConfigError, match=r"'temprature'.*allowed: .*max_length"):
        HFBackend(str(tiny_dir), temprature=0.5)
    with pytest.raises(ConfigError, match=r"'scoring'='fast'.*auto, batched, sequential"):
        HFBackend(str(tiny_dir), scoring="fast")


def test_sequential_reuse_pays_only_for_what_differs(tiny_dir):  # noqa: F811
    """Consecutive prompts share the instructions, both orders of a pair also the question: each prompt after
    the first re-encodes only what follows the prefix it shares with the one before."""
    b = HFBackend(str(tiny_dir))
    seen: list[int] = []
    b.lm.register_forward_pre_hook(lambda _m, args, kw: seen.append(kw["input_ids"].shape[1]), with_kwargs=True)
    _, reqs = pairwise_requests(llmbar_examples(3))
    b.choice_logprobs(reqs)
    full = [len(chat_ids(b, r)) for r in reqs]
    assert len(seen) == len(reqs) and seen[0] == full[0]
    assert all(s < f for s, f in zip(seen[1:], full[1:]))  # every later prompt reused a prefix
    assert sum(seen) < 0.8 * sum(full)


def test_count_tokens_and_info(backend):
    assert backend.count_tokens("Answer with a single letter") == len(
        backend.tokenizer("Answer with a single letter", add_special_tokens=False)["input_ids"])
    info = backend.info()
    assert info["device"] == "cpu" and info["dtype"] == "float32" and info["max_length"] == 1024
    assert info["choice_scoring"] == "sequential"  # the CPU default
    assert info["fingerprint"] == backend.fingerprint()


def test_quiet_run_prints_no_library_progress_or_warnings(tiny_dir, tmp_path):  # noqa: F811
    from .conftest import cli

    # the libraries made loud whatever the machine's own settings (a CI may already silence progress bars)
    loud_env = {"TRANSFORMERS_VERBOSITY": "info", "HF_HUB_DISABLE_PROGRESS_BARS": "0", "TQDM_DISABLE": "0",
                "PYTHONWARNINGS": "default"}
    loud = cli("run", "-b", f"hf:{tiny_dir}", "-t", "sample", "--limit", "2", "--run-dir", str(tmp_path / "a"),
               "--verbose", env=loud_env, check=True)  # --verbose: the libraries keep their own output
    assert loud.stderr.strip(), "transformers printed nothing at info verbosity: this test would prove nothing"
    quiet = cli("run", "-b", f"hf:{tiny_dir}", "-t", "sample", "--limit", "2", "--run-dir", str(tmp_path / "b"), "-q",
                env=loud_env, check=True)
    assert quiet.stderr.strip() == "", quiet.stderr
    assert "sample" in quiet.stdout  # the results table still prints
