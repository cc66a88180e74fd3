"""Overhead of `judgebench tune --tuner dpo` over a plain trl script that trains the same pairs with the same config.

Both sides run as fresh processes (imports, model loading, training, saving included) on a tiny random Llama with
SmolLM2's tokenizer.  judgebench's side also loads the task, renders the pairs through the protocol and the hf
backend's chat template, fingerprints the base and writes provenance; the plain script gets those pairs ready-made
(written out beforehand, not timed) and the resolved DPOConfig values of judgebench's run.  Each side runs
``--repeats`` times, alternating; the best wall time of each is compared.  Target: ratio ≤ 1.1.

    python benchmarks/tune_overhead.py [--examples 16] [--steps 8] [--repeats 2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAKE_TINY = """
import sys, torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from judgebench_hf.embedded import find_gguf
gguf, _ = find_gguf()
tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
                  eos_token_id=tok.eos_token_id, tie_word_embeddings=True, initializer_range=0.2)
LlamaForCausalLM(cfg).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])
"""

JUDGEBENCH = ("import sys; from judgebench import cli; cli.COMMANDS = tuple(dict.fromkeys((*cli.COMMANDS, 'tune'))); "
              "sys.exit(cli.main(sys.argv[1:]))")

PLAIN_TRL = """
import json, sys
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig, DPOTrainer

model_dir, pairs_file, args_file, out = sys.argv[1:5]
spec = json.load(open(args_file))
rows = [json.loads(line) for line in open(pairs_file)]
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir)
trainer = DPOTrainer(model=model, args=DPOConfig(output_dir=out + "/checkpoints", **spec["dpo"]),
                     train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                     peft_config=LoraConfig(**spec["lora"]))
trainer.train()
trainer.save_model(out)
tokenizer.save_pretrained(out)
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return dt


def training_pairs(model_dir: str, examples: int) -> list[dict]:
    """The pairs judgebench trains on, built by its own code (outside the timed region)."""
    from judgebench_dpo.pairs import build_pairs
    from judgebench_dpo.rendering import Renderer, load_base

    from judgebench.engine import prepare_tasks
    from judgebench.types import BackendSpec

    task = prepare_tasks("sample", split="train", limit=examples, mode="choice")[0]
    judge = load_base(BackendSpec("hf", model_dir))
    try:
        ps = build_pairs("verdict", task.examples, task.protocol, Renderer(judge, None))
    finally:
        judge.close()
    return [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in ps.rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=16, help="training examples of the sample task (2 pairs each)")
    ap.add_argument("--steps", type=int, default=8, help="DPO steps (batch 4)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "JUDGEBENCH_CACHE_DIR": str(root / "cache"), "TOKENIZERS_PARALLELISM": "false"}
        model_dir = str(root / "tiny")
        subprocess.run([sys.executable, "-c", MAKE_TINY, model_dir], check=True, capture_output=True, env=env)
        sets = [f"dpo.max_steps={args.steps}", "dpo.per_device_train_batch_size=4", "dpo.learning_rate=1e-4",
                "lora.r=8"]
        jb_cmd = [sys.executable, "-c", JUDGEBENCH, "tune", "--base", f"hf:{model_dir}", "--task", "sample", "--split",
                  "train", "--limit", str(args.examples), "--quiet", *[x for s in sets for x in ("--set", s)]]
        pairs_file, args_file = root / "pairs.jsonl", root / "args.json"
        pairs_file.write_text("".join(json.dumps(r) + "\n" for r in training_pairs(model_dir, args.examples)))
        jb, plain = [], []
        for i in range(args.repeats):
            out = root / f"jb{i}"
            jb.append(timed([*jb_cmd, "--out", str(out)], env))
            prov = json.loads((out / "provenance.json").read_text())
            if not args_file.exists():  # the DPOConfig values judgebench resolved (defaults, hardware, max_length)
                resolved = prov["dpo_args"]
                keys = set(prov["config"]["dpo"]) | {"bf16", "gradient_checkpointing", "max_length", "disable_tqdm"}
                args_file.write_text(json.dumps({"dpo": {k: resolved[k] for k in keys}, "lora": prov["config"]["lora"]}))
                assert prov["pairs"]["pairs_trained"] == len(pairs_file.read_text().splitlines())
            plain_out = root / f"plain{i}"
            plain.append(timed([sys.executable, "-c", PLAIN_TRL, model_dir, str(pairs_file), str(args_file),
                                str(plain_out)], env))
            shutil.rmtree(out)
            shutil.rmtree(plain_out)
    print(f"pairs: {2 * args.examples}, steps: {args.steps} (batch 4), repeats: {args.repeats}")
    print(f"judgebench tune: {', '.join(f'{t:.1f}' for t in jb)} s  (best {min(jb):.1f} s)")
    print(f"plain trl script: {', '.join(f'{t:.1f}' for t in plain)} s  (best {min(plain):.1f} s)")
    ratio = min(jb) / min(plain)
    print(f"ratio judgebench / plain trl: {ratio:.3f}  (target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'})")


if __name__ == "__main__":
    main()
