"""The shipped tuning recipe validates: its keys, its tune block (against trl.DPOConfig / peft.LoraConfig) and its
task group; a mistyped key fails before anything runs."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "smollm2-judge.yaml"


def runner():
    spec = importlib.util.spec_from_file_location("recipe_runner", ROOT / "recipes" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_recipe_validates_against_the_tuner_and_the_task_index():
    from judgebench_dpo.config import load_config

    from judgebench.task import TaskIndex

    recipe = runner().load_recipe(RECIPE, [])
    cfg = load_config(None, **recipe["tune"])  # unknown dpo:/lora: keys would raise
    assert cfg.level == "verdict" and cfg.uses_fast_path and cfg.swap
    leaves = [t.name for t in TaskIndex([]).expand(recipe["task"])]
    assert {"pandalm", "hh-rlhf/harmless", "sample/train"} <= set(leaves)
    assert any(n.startswith("llmbar/") for n in leaves) and "sample" not in leaves  # sample's test split stays out
    assert recipe["base"] == "hf:smollm2" and recipe["base_options"]["max_length"] == 1024


def test_a_mistyped_recipe_key_fails_before_anything_runs(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**yaml.safe_load(RECIPE.read_text()), "limit_per_tsk": 3}))
    p = subprocess.run([sys.executable, str(ROOT / "recipes" / "run.py"), str(bad), "--work", str(tmp_path / "w")],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "limit_per_tsk" in p.stderr
    assert not (tmp_path / "w").exists()
    bad.write_text(yaml.safe_dump({**yaml.safe_load(RECIPE.read_text()), "extract": {"rank": 8, "rows": 256}}))
    p = subprocess.run([sys.executable, str(ROOT / "recipes" / "run.py"), str(bad), "--work", str(tmp_path / "w")],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "extract: unknown key(s) ['rows']" in p.stderr
    assert not (tmp_path / "w").exists()
    bad.write_text(yaml.safe_dump({**yaml.safe_load(RECIPE.read_text()), "extract": {"rank": 8}}))  # LoRA tune
    p = subprocess.run([sys.executable, str(ROOT / "recipes" / "run.py"), str(bad), "--work", str(tmp_path / "w")],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "extract: needs a full-parameter tune" in p.stderr
    assert not (tmp_path / "w").exists()


def test_set_overrides_reach_the_tune_block():
    recipe = runner().load_recipe(RECIPE, ["dpo.learning_rate=1e-3", "lora=false", "limit_per_task=4"])
    assert float(recipe["tune"]["dpo"]["learning_rate"]) == pytest.approx(1e-3)  # YAML 1.1: the tuner coerces it
    assert recipe["tune"]["lora"] is False and recipe["limit_per_task"] == 4


def test_train_items_is_a_seeded_proportional_sample_of_the_train_side(tmp_path, data_dir, monkeypatch):
    from judgebench.commands.split import task_examples
    from judgebench.splits import load_split, write_split

    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(data_dir))
    recipe = runner().load_recipe(RECIPE, ["train_items=200"])
    examples, leaves = task_examples(recipe["task"], None, [], False)
    write_split(tmp_path / "split", recipe["task"], examples, 0.16, 0, leaf_tasks=leaves, data_split=None)
    full = load_split(tmp_path / "split")
    path = runner().sample_train(tmp_path / "split", tmp_path / "sample", recipe, 200)
    sample = load_split(path)
    assert sample["test"] == full["test"]  # the held-out side is untouched
    assert set(sample["train"]) <= set(full["train"]) and abs(len(sample["train"]) - 200) <= len(leaves)
    per_leaf = sample["manifest"]["train_items"]["per_leaf"]
    from judgebench.resolve import resolve_tasks

    leaf_of = {e.id: t.name for t in resolve_tasks(recipe["task"]) for e in t.examples}
    for name, total in per_leaf.items():  # each leaf in proportion to its share of the train side
        got = sum(1 for i in sample["train"] if leaf_of.get(i) == name)
        assert abs(got - 200 * total / len(full["train"])) <= 1, name
    again = runner().sample_train(tmp_path / "split", tmp_path / "again", recipe, 200)
    assert load_split(again)["train"] == sample["train"]  # seeded


def test_margins_split_position_from_content(tmp_path):
    import json
    import sqlite3

    spec = importlib.util.spec_from_file_location("margins", ROOT / "recipes" / "margins.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    db = sqlite3.connect(tmp_path / "judgments.sqlite")
    db.execute("CREATE TABLE judgments (task TEXT, example_id TEXT, slot TEXT, status TEXT, choice_logprobs TEXT)")
    rows = {"x": (1.5, 0.5), "y": (1.0, -1.0), "z": (-1.0, 2.0)}  # margins A−B in order 0-1 and 1-0
    for ex, (m1, m2) in rows.items():
        for slot, m in (("0-1", m1), ("1-0", m2)):
            db.execute("INSERT INTO judgments VALUES ('t', ?, ?, 'ok', ?)", (ex, slot, json.dumps({"A": m, "B": 0.0})))
    db.execute("INSERT INTO judgments VALUES ('t', 'lonely', '0-1', 'ok', ?)", (json.dumps({"A": 1, "B": 0}),))
    db.commit()
    d = mod.decompose(tmp_path)
    assert d["n"] == 3  # an item judged in one order only is left out
    assert d["position_mean"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert d["content_sd"] == pytest.approx(__import__("statistics").pstdev([0.5, 1.0, -1.5]))
    assert d["consistency"] == pytest.approx(2 / 3)  # y and z flip the letter with the order: the same candidate


def test_rebuild_check_compares_weights_and_stored_verdicts(tmp_path, capsys):
    import json
    import sqlite3

    import torch
    from safetensors.torch import save_file

    from judgebench.store import _RUN_SCHEMA

    spec = importlib.util.spec_from_file_location("rebuild_check", ROOT / "recipes" / "rebuild_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    a = {"x.lora_A.weight": torch.tensor([[3.0, 4.0]]), "x.lora_B.weight": torch.zeros(2, 1)}
    b = {"x.lora_A.weight": torch.tensor([[3.0, 4.5]]), "x.lora_B.weight": torch.zeros(2, 1)}
    for name, tensors in (("ja", a), ("jb", b), ("jc", a)):
        (tmp_path / name).mkdir()
        save_file(tensors, str(tmp_path / name / mod.WEIGHTS))
    runs = []
    for name, verdicts in (("ra", ["A", "B", "A"]), ("rb", ["A", "A", "A"])):
        (tmp_path / name).mkdir()
        db = sqlite3.connect(tmp_path / name / "judgments.sqlite")
        db.executescript(_RUN_SCHEMA)
        for i, v in enumerate(verdicts):
            margin = 1.0 if v == "A" else -1.0
            db.execute("INSERT INTO judgments (key, task, example_id, slot, status, verdict, choice_logprobs) "
                       "VALUES (?, 't', ?, '0-1', 'ok', ?, ?)",
                       (f"k{i}", f"e{i}", v, json.dumps({"A": margin, "B": 0.0})))
        db.execute("INSERT INTO judgments (key, task, example_id, slot, status) VALUES ('err', 't', 'e9', '0-1', "
                   "'error')")
        db.commit()
        runs.append(tmp_path / name)
    assert mod.main([str(tmp_path / "ja"), str(tmp_path / "jc")]) == 0
    assert "identical files" in capsys.readouterr().out
    assert mod.main([str(tmp_path / "ja"), str(tmp_path / "jb"), "--runs", *map(str, runs)]) == 0
    out = capsys.readouterr().out
    assert "different files" in out and "max |a - b| 0.5" in out and "relative L2 0.1" in out  # 0.5 / 5
    assert "3 judgments in both runs, 66.7 % the same" in out and "largest A-B margin difference 2" in out
    with pytest.raises(SystemExit, match="not a run directory"):
        mod.main([str(tmp_path / "ja"), str(tmp_path / "jb"), "--runs", str(runs[0]), str(tmp_path / "ja")])


def test_extract_lora_carries_a_full_parameter_change_into_a_peft_adapter(tmp_path, capsys):
    """A tuned model whose change is low-rank in every linear layer, in the norms and in a few (tied) embedding rows is
    reproduced exactly by the extracted adapter loaded through PEFT; a lower rank drops a measured share."""
    import json

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, LlamaConfig

    spec = importlib.util.spec_from_file_location("extract_lora", ROOT / "recipes" / "extract_lora.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, tie_word_embeddings=True)
    base = AutoModelForCausalLM.from_config(cfg)
    base.save_pretrained(tmp_path / "base")
    tuned = AutoModelForCausalLM.from_config(cfg)
    tuned.load_state_dict(base.state_dict())
    changed_rows = [5, 17, 60]
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if name.endswith("proj.weight"):
                p += 0.05 * torch.randn(p.shape[0], 2) @ torch.randn(2, p.shape[1])  # rank 2
            elif "norm" in name:
                p *= 1.0 + 0.1 * torch.randn_like(p)
            elif name == "model.embed_tokens.weight":
                p[changed_rows] += 0.5 * torch.randn(len(changed_rows), p.shape[1])
    tuned.save_pretrained(tmp_path / "tuned")
    ids = torch.tensor([[1, 5, 17, 60, 3, 9, 2]])
    with torch.no_grad():
        want = tuned(ids).logits
        assert (want - base(ids).logits).abs().max() > 0.1

    def extracted(rank: int, rows: int, base: bool = True):
        out = tmp_path / f"r{rank}-{rows}"
        assert mod.main([str(tmp_path / "tuned"), str(out), "--rank", str(rank), "--token-rows", str(rows)]
                        + (["--base", str(tmp_path / "base")] if base else [])) == 0
        lm = AutoModelForCausalLM.from_pretrained(tmp_path / "base")
        with torch.no_grad():
            return PeftModel.from_pretrained(lm, str(out)).eval()(ids).logits, capsys.readouterr().out

    got, report = extracted(rank=2, rows=len(changed_rows))
    assert (got - want).abs().max() < 1e-4
    def dropped(report: str, part: str) -> float:
        return float(next(line for line in report.splitlines() if line.startswith(part + " ")).split()[2])

    assert "(3 of 97 rows kept)" in report and dropped(report, "q_proj") == 0.0 and dropped(report, "embeddings") == 0.0
    (tmp_path / "tuned" / "provenance.json").write_text(json.dumps(
        {"status": "complete", "base": {"source": str(tmp_path / "base"), "spec": {"model": "tiny-base"}}}))
    got, report = extracted(rank=1, rows=1, base=False)  # the base recorded in the tuned judge's provenance
    assert (got - want).abs().max() > 1e-3
    prov = json.loads((tmp_path / "r1-1" / "provenance.json").read_text())
    assert prov["status"] == "complete" and prov["extracted"]["rank"] == 1 and prov["extracted"]["base"] == "tiny-base"
    assert json.loads((tmp_path / "r1-1" / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny-base"
    with pytest.raises(SystemExit, match="LoRA judge already"):
        mod.main([str(tmp_path / "r1-1"), str(tmp_path / "again")])
    assert 0.05 < dropped(report, "q_proj") < 1.0 and 0.05 < dropped(report, "embeddings") < 1.0


def test_verdict_eos_splits_the_training_margin(tmp_path, data_dir, monkeypatch):
    """recipes/verdict_eos.py: for a real judge prompt, the verdict-token and end-of-turn margins it reports add up to
    the training margin, log π(A EOS) − log π(B EOS), computed independently from two full sequences."""
    import torch
    from judgebench_dpo.rendering import Renderer, load_base

    from judgebench.engine import prepare_tasks
    from judgebench.types import BackendSpec

    from .test_dpo_tune import MAKE_TINY

    base = tmp_path / "tiny"
    subprocess.run([sys.executable, "-c", MAKE_TINY, str(base)], check=True, capture_output=True, timeout=300)
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(data_dir))
    spec = importlib.util.spec_from_file_location("verdict_eos", ROOT / "recipes" / "verdict_eos.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (task,) = prepare_tasks("sample", split="test", limit=1)
    judge = load_base(BackendSpec("hf", str(base), {"max_length": 1024}))
    try:
        tok, model = judge.tokenizer, judge.model.eval()
        rows = [(ex.id, str(r.meta.get("slot")), Renderer(judge, 1024)(r)) for ex in task.examples
                for r in task.protocol.expand(ex)]
        got = mod.margins(model, tok, rows)

        def seq_logp(prompt: str, verdict: str) -> float:
            n = len(tok(prompt)["input_ids"])
            ids = torch.tensor([tok(prompt + verdict + tok.eos_token)["input_ids"]])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            return float(logp[torch.arange(n - 1, ids.shape[1] - 1), ids[0, n:]].sum())

        assert len(rows) == 2 and {s for _, s, _ in rows} == {"0-1", "1-0"}
        for ex_id, slot, prompt in rows:
            verdict, eos = got[ex_id][slot]
            assert abs(eos) > 1e-4  # the tiny model's EOS term is not zero, so the sum below checks both parts
            assert verdict + eos == pytest.approx(seq_logp(prompt, "A") - seq_logp(prompt, "B"), abs=1e-4)
    finally:
        judge.close()
