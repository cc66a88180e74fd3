"""`judgebench tune --tuner dpo` end to end on a tiny real Llama (SmolLM2's tokenizer): a trained LoRA judge that
the `lora` backend loads, whose verdict log-probs moved the trained way, with exact provenance, a paired held-out
evaluation, the contamination guard, and resume after a kill."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from judgebench import ConfigError, cli
from judgebench.contamination import example_digest
from judgebench.engine import prepare_tasks
from judgebench.runner import RunConfig, build_backend, execute
from judgebench.types import BackendSpec

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
N_TRAIN = 4
TRAIN_FLAGS = ["--set", "dpo.learning_rate=5e-3", "--set", "dpo.max_steps=8", "--set", "dpo.per_device_train_batch_size=8",
               "--set", "lora.r=8"]
MAKE_TINY = """
import sys, torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from judgebench_hf.embedded import find_gguf
gguf, _ = find_gguf()
tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)  # SmolLM2's tokenizer and chat template
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
                  eos_token_id=tok.eos_token_id, tie_word_embeddings=True, initializer_range=0.2)
LlamaForCausalLM(cfg).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
"""


def judgebench(*args: str) -> int:
    """The real CLI in this process (`tune` is added to the command list if cli.py does not list it yet)."""
    names = tuple(dict.fromkeys((*cli.COMMANDS, "tune")))
    old, cli.COMMANDS = cli.COMMANDS, names
    try:
        return cli.main(list(args))
    finally:
        cli.COMMANDS = old


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> str:
    """A 2-layer Llama with random weights (init range 0.2, so a few DPO steps visibly move its logits)."""
    d = tmp_path_factory.mktemp("tiny-llama")
    subprocess.run([sys.executable, "-c", MAKE_TINY, str(d)], check=True, capture_output=True, timeout=300)
    return str(d)


@pytest.fixture(scope="module")
def tuned(tiny_base, tmp_path_factory):
    """One tuning run through the CLI with --eval on held-out items; returns (out dir, runs root, --json output)."""
    root = tmp_path_factory.mktemp("tuned")
    out, runs = root / "judge", root / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUDGEBENCH_CACHE_DIR", str(root / "cache"))
        mp.setenv("JUDGEBENCH_DATA_DIR", str(ROOT / ".." / "shared" / "data"))
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        with redirect_stdout(buf):
            rc = judgebench("tune", "--base", f"hf:{tiny_base}", "--task", "sample", "--split", "train", "--limit",
                            str(N_TRAIN), "--out", str(out), *TRAIN_FLAGS, "--eval", "sample", "--eval-split", "test",
                            "--eval-limit", "6", "--runs-root", str(runs), "--json", "--quiet")
    assert rc == 0, buf.getvalue()
    return out, runs, json.loads(buf.getvalue())


def train_examples():
    t = prepare_tasks("sample", split="train", limit=N_TRAIN, mode="choice")[0]
    return t


def margins(spec: BackendSpec, task) -> list[float]:
    """log p(correct verdict) - log p(wrong verdict) on every training prompt (both orders)."""
    reqs = [r for ex in task.examples for r in task.protocol.expand(ex)]
    labels = {ex.id: ex.labels for ex in task.examples}
    backend = build_backend(spec)
    try:
        comps = backend.choice_logprobs(reqs)
    finally:
        backend.close()
    out = []
    for r, c in zip(reqs, comps):
        good = [ch for ch in r.choices if task.protocol.choice_to_verdict(r, ch) in labels[r.example_id]]
        bad = [ch for ch in r.choices if ch not in good]
        out.append(c.choice_logprobs[good[0]] - c.choice_logprobs[bad[0]])
    return out


def test_provenance_lists_exactly_the_trained_items(tuned, tiny_base):
    out, _, result = tuned
    prov = json.loads((out / "provenance.json").read_text())
    exs = train_examples().examples
    assert prov["status"] == "complete" and prov["trained_ids"] == sorted(e.id for e in exs)
    assert sorted(prov["trained_example_digests"]) == sorted(example_digest(e) for e in exs)
    assert prov["pairs"]["pairs"] == prov["pairs"]["pairs_trained"] == 2 * N_TRAIN  # both orders of each pair
    assert prov["config"]["dpo"]["learning_rate"] == 5e-3 and prov["config"]["dpo"]["beta"] == 0.1
    assert prov["global_step"] == 8 and [h["step"] for h in prov["log_history"] if "loss" in h] == list(range(1, 9))
    assert {"trl", "peft", "transformers", "torch"} <= set(prov["versions"])
    assert prov["base"]["spec"] == {"name": "hf", "model": tiny_base, "options": {}}
    assert prov["task"]["tasks"]["sample"]["split"] == "train"
    base = build_backend(BackendSpec("hf", tiny_base))
    assert prov["base"]["fingerprint"] == base.fingerprint()
    base.close()
    assert result["tuned"] == {"name": "lora", "model": str(out), "options": {"base": tiny_base}}


def test_adapter_loads_through_lora_backend_and_moves_verdicts_the_trained_way(tuned, tiny_base):
    out, _, _ = tuned
    spec = cli.parse_backend_spec(str(out))  # `--backend DIR` reads backend.yaml
    assert spec.name == "lora" and (out / "adapter_model.safetensors").exists() and (out / "tokenizer.json").exists()
    task = train_examples()
    before, after = margins(BackendSpec("hf", tiny_base), task), margins(spec, task)
    assert sum(after) / len(after) > sum(before) / len(before) + 0.5
    assert sum(a > b for a, b in zip(after, before)) >= 6  # of 8 prompts


def test_training_prompts_are_the_hf_backends_prompts(tiny_base):
    from judgebench_dpo.rendering import Renderer, load_base

    task = train_examples()
    judge = load_base(BackendSpec("hf", tiny_base))
    render = Renderer(judge, None)
    for req in task.protocol.expand(task.examples[0]):
        p = judge.prompts.build(req, judge.max_length)
        assert render(req) == p.text and judge.tokenizer(p.text)["input_ids"] == p.ids  # what trl will tokenise
    short = Renderer(judge, 40)
    assert short(req) is None and short.too_long == {req.example_id: "prompt does not fit max_length 40"}
    judge.close()


def test_held_out_paired_comparison(tuned):
    out, _, result = tuned
    rows = [r for r in result["eval"]["summary"] if not r["task"].endswith("(calibrated)")]
    calibrated = [r for r in result["eval"]["summary"] if r["task"].endswith("(calibrated)")]
    assert [r["judge"] for r in calibrated] == ["base", "tuned"]  # the position-calibrated score, its own rows
    assert [r["judge"] for r in rows] == ["base", "tuned"] and all(r["n"] == 6 for r in rows)
    assert 0 <= rows[1]["p_value"] <= 1 and rows[1]["wins"] + rows[1]["losses"] <= 6
    for r in rows:
        assert r["ci_low"] <= r["accuracy"] <= r["ci_high"] and r["position_consistency"]["n"] == 6
    saved = json.loads((out / "eval.json").read_text())
    assert not any(r["contaminated"] for r in saved["runs"]) and saved["summary"] == rows + calibrated


def test_contamination_guard_refuses_trained_items(tuned, tmp_path):
    out, _, _ = tuned
    spec = cli.parse_backend_spec(str(out))
    cfg = RunConfig(backend=spec, task="sample", split="train", limit=N_TRAIN + 2, mode="choice")
    with pytest.raises(ConfigError, match=f"contamination: this judge was trained on {N_TRAIN} of the evaluated"):
        execute(cfg, runs_root=tmp_path / "runs")
    cfg.allow_contaminated = True
    res = execute(cfg, runs_root=tmp_path / "runs")
    assert res.manifest["contaminated_items"] == sorted(e.id for e in train_examples().examples)
    rc = judgebench("run", "--backend", str(out), "--task", "sample", "--split", "train", "--limit", "3",
                    "--mode", "choice", "--runs-root", str(tmp_path / "cli-runs"), "-q")
    assert rc == 2  # the CLI refuses too (ConfigError)


def test_rerun_of_a_finished_tuning_is_a_no_op(tuned, tiny_base, capsys):
    out, _, _ = tuned
    before = (out / "provenance.json").read_text()
    mtime = (out / "adapter_model.safetensors").stat().st_mtime_ns
    rc = judgebench("tune", "--base", f"hf:{tiny_base}", "--task", "sample", "--split", "train", "--limit", str(N_TRAIN),
                    "--out", str(out), *TRAIN_FLAGS, "--quiet")
    assert rc == 0 and (out / "provenance.json").read_text() == before
    assert (out / "adapter_model.safetensors").stat().st_mtime_ns == mtime
    rc = judgebench("tune", "--base", f"hf:{tiny_base}", "--task", "sample", "--split", "train", "--limit", str(N_TRAIN),
                    "--out", str(out), *TRAIN_FLAGS, "--set", "dpo.beta=0.2", "--quiet")
    assert rc == 2 and "holds a different tuning run" in capsys.readouterr().err


def test_resume_after_kill(tiny_base, tmp_path):
    out = tmp_path / "judge"
    args = ["tune", "--base", f"hf:{tiny_base}", "--task", "sample", "--split", "train", "--limit", "2", "--out", str(out),
            "--set", "dpo.max_steps=12", "--set", "dpo.save_steps=2", "--set", "dpo.per_device_train_batch_size=2",
            "--set", "dpo.learning_rate=1e-3", "--quiet"]
    # The kill must land mid-training however fast or loaded the machine is: the child pauses right after it has
    # saved checkpoint-2 (the real trainer's save, wrapped) and says so through a marker file; it is killed there.
    marker = tmp_path / "paused"
    code = ("import os, sys, time, transformers; from judgebench import cli\n"
            "save = transformers.Trainer._save_checkpoint\n"
            "def paused(self, *a, **k):\n"
            "    save(self, *a, **k)\n"
            "    if self.state.global_step == 2:\n"
            "        open(os.environ['PAUSE_MARKER'], 'w').close(); time.sleep(600)\n"
            "transformers.Trainer._save_checkpoint = paused\n"
            "cli.COMMANDS = tuple(dict.fromkeys((*cli.COMMANDS, 'tune'))); sys.exit(cli.main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PAUSE_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600  # a deadline for a hung child only, never reached by a working one
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert marker.exists() and proc.poll() is None, "training did not pause after checkpoint-2"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (out / "checkpoints" / "checkpoint-2" / "trainer_state.json").exists()
    assert not (out / "checkpoints" / "checkpoint-4").exists()
    assert json.loads((out / "provenance.json").read_text())["status"] == "training"
    assert not (out / "backend.yaml").exists()
    assert judgebench(*args) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["status"] == "complete" and prov["resumed_from"] == str(out / "checkpoints" / "checkpoint-2")
    assert prov["global_step"] == 12
    assert [h["step"] for h in prov["log_history"] if "loss" in h] == list(range(1, 13))


def test_resume_skips_a_checkpoint_cut_off_while_saving(tmp_path):
    """A kill -9 during a save leaves a checkpoint directory without (or with a truncated) trainer_state.json, the
    file the trainer writes last: resuming starts from the newest complete one and clears the broken ones."""
    from judgebench_dpo.tuner import last_checkpoint

    ckpts = tmp_path / "checkpoints"
    assert last_checkpoint(ckpts) is None  # nothing trained yet
    for step, state in ((2, '{"global_step": 2}'), (10, '{"global_step": 10}'), (12, None), (14, '{"global_st')):
        d = ckpts / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "adapter_model.safetensors").write_bytes(b"x")
        if state is not None:
            (d / "trainer_state.json").write_text(state)
    (ckpts / "checkpoint-99.tmp").mkdir()  # not a checkpoint name: ignored, left alone
    assert last_checkpoint(ckpts, prune=False) == str(ckpts / "checkpoint-10")  # 10 > 2 numerically, not as text
    assert (ckpts / "checkpoint-12").exists() and (ckpts / "checkpoint-14").exists()  # only the writer prunes
    assert last_checkpoint(ckpts) == str(ckpts / "checkpoint-10")
    assert sorted(p.name for p in ckpts.iterdir()) == ["checkpoint-10", "checkpoint-2", "checkpoint-99.tmp"]
