"""Overhead of `judgebench tune --tuner dpo` over a plain trl script that trains the same pairs with the same config.

Row 1 — judgebench tune vs a plain trl script.  Both sides run as fresh processes (imports, model loading, training,
saving included) on a tiny random Llama with
SmolLM2's tokenizer.  judgebench's side also loads the task, renders the pairs through the protocol and the hf
backend's chat template, fingerprints the base and writes provenance; the plain script gets those pairs ready-made
(written out beforehand, not timed) and the resolved DPOConfig values of judgebench's run.  Each side runs
``--repeats`` times, alternating; the best wall time of each is compared.  Target: ratio ≤ 1.1.

    python benchmarks/tune_overhead.py [--examples 16] [--steps 8] [--repeats 2]

Row 2 — the verdict fast path (``judgebench_dpo.fastpath``) vs plain ``trl.DPOTrainer`` on the same verdict pairs,
same config (LoRA, batch 8, gradient checkpointing, the real SmolLM2-135M-Instruct, ~1,024-token prompts): wall
time per pair (the fast path's reference pass before training included), peak RSS of each side (a fresh process
each), and the first batch's loss of each (equal within 1e-4 is the target).  Targets: ≥ 2.5× faster per pair,
peak RSS ≤ 3 GB.  Both sides run under the glibc malloc settings ``judgebench tune`` uses (judgebench/malloc.py);
``--compare-malloc`` adds the fast path under glibc's defaults, to show what they cost in memory.

    python benchmarks/tune_overhead.py --fast-path [--steps 2] [--prompt-tokens 1024] [--batch 8] [--compare-malloc]
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

from judgebench.malloc import OPT_OUT, training_env

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


FAST_WORKER = """
import json, os, resource, sys, time
import torch
from judgebench_dpo.config import build_dpo_config, build_lora_config, load_config
from judgebench_dpo.tuner import make_trainer
from judgebench_hf.embedded import ensure_smollm2
from transformers import AutoModelForCausalLM, AutoTokenizer

side, rows_file, steps, batch, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rows = [json.loads(line) for line in open(rows_file)]
model_dir = str(ensure_smollm2())
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
fast = side == "fast"
torch.manual_seed(0)  # the same (non-identity) adapter initialisation on both sides
cfg = load_config(None, fast=fast, dpo={"per_device_train_batch_size": batch, "max_steps": steps,
                                        "gradient_checkpointing": True, "learning_rate": 1e-4, "max_length": 1100,
                                        "save_strategy": "no", "logging_steps": 1},
                  lora={"r": 16, "lora_alpha": 32, "init_lora_weights": False})
args = build_dpo_config(cfg, out, quiet=True)
t0 = time.perf_counter()
trainer = make_trainer(model, tok, rows, args, build_lora_config(cfg), True, fast=fast)
t_build = time.perf_counter() - t0
ds = trainer.train_dataset
first = sorted(set(ds["example_id"]))[: batch // 2]  # the same examples (both orders) on both sides
batch_rows = [ds[i] for i in range(len(ds)) if ds[i]["example_id"] in first]
t1 = time.perf_counter()
with torch.no_grad():
    loss0 = float(trainer.compute_loss(trainer.model, trainer.data_collator(batch_rows)))
t_check = time.perf_counter() - t1
trainer.train()
wall = time.perf_counter() - t0 - t_check
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB -> GiB
print(json.dumps({"side": side, "wall_s": wall, "build_s": t_build, "pairs": steps * batch,
                  "first_batch_loss": loss0, "peak_rss_gib": rss}))
"""


def long_verdict_pairs(n_examples: int, prompt_tokens: int) -> list[dict]:
    """Verdict pairs (both orders of each example) whose judge prompts are ``prompt_tokens`` long: real LLMBar
    instructions and outputs rendered by the pairwise template, padded with further real LLMBar text."""
    from judgebench_hf.embedded import ensure_smollm2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(ensure_smollm2()))
    data = Path(os.environ.get("JUDGEBENCH_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    rows = json.loads((data / "llmbar" / "LLMBar" / "Natural" / "dataset.json").read_text())
    filler = " ".join(r["output_1"] + " " + r["output_2"] for r in rows)
    out = []
    for k in range(n_examples):
        r = rows[k % len(rows)]
        for first, second, good in ((r["output_1"], r["output_2"], "AB"[r["label"] - 1]),
                                    (r["output_2"], r["output_1"], "BA"[r["label"] - 1])):
            head = f"Which response follows the instruction better?\nInstruction: {r['input']}\nA: {first}\nB: {second}\n"
            need = prompt_tokens - len(tok(head + "Answer A or B. Answer:")["input_ids"])
            pad_ids = tok(filler[k * 97:])["input_ids"][:max(0, need - 12)]
            context = "Background notes: " + tok.decode(pad_ids) + "\n"
            prompt = context + head + "Answer A or B. Answer:"
            out.append({"prompt": prompt, "chosen": " " + good, "rejected": " " + ("B" if good == "A" else "A"),
                        "example_id": f"ex{k}"})
    return out


def fast_path_row(args: argparse.Namespace) -> None:
    n_examples = args.steps * args.batch // 2
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "pairs.jsonl"
        rows = long_verdict_pairs(n_examples, args.prompt_tokens)
        rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
        env = training_env({**os.environ, "TOKENIZERS_PARALLELISM": "false"})  # what `judgebench tune` runs under
        sides = [("plain", "plain", env), ("fast", "fast", env)]
        if args.compare_malloc:
            sides.append(("fast, glibc malloc defaults", "fast",
                          {k: v for k, v in env.items() if k != "GLIBC_TUNABLES"} | {OPT_OUT: "default"}))
        res = {}
        for label, side, side_env in sides:
            p = subprocess.run([sys.executable, "-c", FAST_WORKER, side, str(rows_file), str(args.steps),
                                str(args.batch), str(Path(tmp) / side)], env=side_env, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"{label} worker failed ({p.returncode}):\n{p.stderr[-3000:]}")
            res[label] = json.loads(p.stdout.strip().splitlines()[-1])
    plain, fast = res["plain"], res["fast"]
    per = {k: v["wall_s"] / v["pairs"] for k, v in res.items()}
    speedup = per["plain"] / per["fast"]
    dloss = abs(plain["first_batch_loss"] - fast["first_batch_loss"])
    print(f"verdict fast path vs plain trl DPOTrainer on the same verdict pairs, same config "
          f"({len(rows)} pairs, batch {args.batch}, {args.steps} steps, ~{args.prompt_tokens}-token prompts, LoRA r16, "
          f"gradient checkpointing, SmolLM2-135M-Instruct, {torch_threads()} threads; "
          f"GLIBC_TUNABLES={env.get('GLIBC_TUNABLES', '(none: not glibc)')}, as `judgebench tune` sets it)")
    for k in res:
        print(f"  {k:5s}: {per[k]:.2f} s/pair (wall {res[k]['wall_s']:.1f} s incl. {res[k]['build_s']:.1f} s setup"
              f"{' and reference pass' if k.startswith('fast') else ''}), peak RSS {res[k]['peak_rss_gib']:.2f} GiB, "
              f"first-batch loss {res[k]['first_batch_loss']:.6f}")
    print(f"  speedup per pair: {speedup:.2f}x (target >= 2.5: {'met' if speedup >= 2.5 else 'MISSED'}); "
          f"fast peak RSS {fast['peak_rss_gib']:.2f} GiB (target <= 3: {'met' if fast['peak_rss_gib'] <= 3 else 'MISSED'}); "
          f"|loss diff| {dloss:.2e} (target <= 1e-4: {'met' if dloss <= 1e-4 else 'MISSED'})")
    print("  why: plain trl runs prompt+chosen and prompt+rejected (2 prompt passes per pair, plus 2 reference "
          "passes each step) and projects every position onto the whole vocabulary; the fast path runs each prompt "
          "once (plus one reference pass before training) and projects only the verdict positions — the token "
          "count alone gives ~2x, the skipped vocabulary projections the rest")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fast-path", action="store_true", help="row 2: the verdict fast path vs plain trl DPOTrainer")
    ap.add_argument("--prompt-tokens", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--examples", type=int, default=16, help="training examples of the sample task (2 pairs each)")
    ap.add_argument("--steps", type=int, default=None, help="DPO steps (row 1: default 8 at batch 4; row 2: default 2)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--compare-malloc", action="store_true",
                    help="row 2: also run the fast path under glibc's default malloc settings (what the peak RSS was)")
    args = ap.parse_args()
    if args.fast_path:
        args.steps = args.steps or 2
        fast_path_row(args)
        return
    args.steps = args.steps or 8
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
