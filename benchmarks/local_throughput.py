"""Local judge throughput: SmolLM2-135M-Instruct on this CPU, the same pairwise prompts judged four ways.

The prompts are judgebench's pairwise judge requests for real LLMBar items (``--task``, default ``llmbar``): a seeded
sample of n/2 pairs, each in both orders, so n prompts.  Every mode loads the same checkpoint directory in float32
on the CPU with the same torch thread count, in its own fresh subprocess (so its RSS high-water mark is its own).
Model loading and a warm-up on the first ``--warmup`` prompts are excluded from every mode's time alike.

  naive     a per-sample loop: tokenizer.apply_chat_template + model.generate(max_new_tokens = the protocol's
            max_tokens, greedy), one prompt at a time; the text is parsed by the protocol
  generate  judgebench's `hf` backend, generate mode (length-sorted batched generation), parsed by the protocol
  choice    judgebench's `hf` backend, choice-scoring mode (choice_logprobs: one forward pass per prompt batch)
  lmeval    lm-evaluation-harness HFLM(pretrained=<same dir>).loglikelihood: one request per choice letter, the
            context being the chat-templated prompt and the continuation the letter
  concurrent  (opt-in) two choice-scoring runs at once, each sizing its threads itself (judgebench's default:
            the CPUs it may use shared among the local judgebench processes): each run's time relative to the
            same run alone (target <= 2.5x; two runs on one CPU budget cannot both be faster than 2x)
  choice-bf16  (opt-in) choice scoring with ``-o dtype=bfloat16``: on CPUs with AMX/AVX512-BF16 this is the fast
            setting; it is not part of the float32 target comparison (its verdicts can differ where margins are tiny)

Printed: judgments/second per mode, the ratios choice/naive (target >= 5), choice/lmeval (target >= 1.0) and
generate/naive, pairwise verdict agreement between modes (% of prompts with the same verdict letter; a parse
failure counts as no verdict and disagrees with everything), peak RSS per mode, and the forward positions per prompt
(tokens the model computed, padding and decoding steps included) with positions/second: on a CPU near its arithmetic
peak every mode runs at about the same positions/second, so their ratio bounds what batching can gain here.

    python benchmarks/local_throughput.py [--n 200] [--modes naive,generate,choice,lmeval] [--threads 2]
    python benchmarks/local_throughput.py --modes concurrent --n 40
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("naive", "generate", "choice", "lmeval", "choice-bf16")
DEFAULT_MODES = MODES[:4]
TARGETS = {("choice", "naive"): 5.0, ("choice", "lmeval"): 1.0}
CONCURRENT_TARGET = 2.5  # each of two concurrent runs within this many times its solo time


# -- the prompts (identical in every worker) ------------------------------------------------------
def load_requests(task: str, n: int, seed: int, mode: str) -> tuple[Any, list[Any]]:
    """(protocol, requests): n/2 seeded-sampled pairs of ``task``, both orders each, in judgebench's rendering."""
    from judgebench.engine import prepare_tasks

    tasks = prepare_tasks(task, mode=mode, seed=seed)
    pool = [(t, ex) for t in tasks for ex in t.examples]
    picked = random.Random(seed).sample(pool, min(len(pool), (n + 1) // 2))
    reqs = [r for t, ex in picked for r in t.protocol.expand(ex)][:n]
    protocols = {id(t.protocol): t.protocol for t, _ in picked}
    proto = next(iter(protocols.values()))  # the leaves share one protocol configuration (pairwise, same options)
    return proto, reqs


def prompts_digest(reqs: list[Any]) -> str:
    """Digest of the prompt contents (not the mode): every worker must judge exactly the same prompts."""
    h = hashlib.sha256()
    for r in reqs:
        h.update(json.dumps([[m.role, m.content] for m in r.messages] + [r.answer_prefix, list(r.choices)]).encode())
    return h.hexdigest()[:16]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # Linux: KiB, macOS: bytes


# -- the four modes: each returns a function judging a list of requests into verdict letters ----------
def setup_naive(model_dir: str, proto: Any) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from judgebench import Completion

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to("cpu").eval()

    def judge(reqs: list[Any]) -> list[str | None]:
        out = []
        for r in reqs:
            msgs = [{"role": m.role, "content": m.content} for m in r.messages]
            text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False) + r.answer_prefix
            enc = tok(text, add_special_tokens=False, return_tensors="pt")
            with torch.inference_mode():
                gen = model.generate(**enc, max_new_tokens=r.sampling.max_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
            reply = tok.decode(gen[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            out.append(letter(proto, r, proto.parse(r, Completion(text=reply))))
        return out

    return judge, model


def setup_hf(model_dir: str, proto: Any, mode: str, dtype: str = "float32", threads: int = 0) -> Any:
    from judgebench_hf.backend import HFBackend

    backend = HFBackend(model_dir, dtype=dtype, device="cpu", **({"threads": threads} if threads > 0 else {}))

    def judge(reqs: list[Any]) -> list[str | None]:
        out = []
        for start in range(0, len(reqs), backend.batch_size):  # the engine hands the backend batch_size requests
            chunk = reqs[start:start + backend.batch_size]
            comps = backend.choice_logprobs(chunk) if mode == "choice" else backend.generate(chunk)
            out += [letter(proto, r, proto.parse(r, c)) for r, c in zip(chunk, comps)]
        return out

    return judge, backend.lm


def setup_lmeval(model_dir: str, proto: Any, batch_size: str) -> Any:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    lm = HFLM(pretrained=model_dir, backend="causal", device="cpu", dtype="float32",
              batch_size=int(batch_size) if batch_size.isdigit() else batch_size)

    def judge(reqs: list[Any]) -> list[str | None]:
        insts, owners = [], []
        for i, r in enumerate(reqs):
            msgs = [{"role": m.role, "content": m.content} for m in r.messages]
            ctx = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False) + r.answer_prefix
            for c in r.choices:
                insts.append(Instance("loglikelihood", {}, (ctx, c), len(insts)))
                owners.append((i, c))
        res = lm.loglikelihood(insts, disable_tqdm=True)
        best: dict[int, tuple[float, str]] = {}
        for (i, c), (lp, _) in zip(owners, res):
            if i not in best or lp > best[i][0]:
                best[i] = (lp, c)
        return [best[i][1] for i in range(len(reqs))]

    return judge, lm.model


def letter(proto: Any, req: Any, judgment: Any) -> str | None:
    """The verdict as the letter shown to the judge (None: no verdict, e.g. a parse failure)."""
    if judgment.status != "ok":
        return None
    for c in req.choices:
        if proto.choice_to_verdict(req, c) == judgment.verdict:
            return c
    return None


def count_positions(model: Any) -> list[int]:
    """A counter of the token positions the model's forward passes compute (input_ids.numel() per call, padding
    included; a decoding step with a KV cache is one position per row).  On a CPU running near its arithmetic
    peak, time is about proportional to this, so it says how fast a mode *can* be relative to another."""
    count = [0]

    def hook(_module: Any, args: Any, kwargs: Any) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is not None:
            count[0] += int(ids.numel())

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    base.register_forward_pre_hook(hook, with_kwargs=True)
    return count


def matmul_flops_per_position(model_dir: str) -> float:
    """2 × the weights every position multiplies (attention projections and MLP of a Llama-style config; the
    embedding lookup, norms and attention scores are left out, which only makes the bound below generous)."""
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    head = cfg.get("head_dim") or h // cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", cfg["num_attention_heads"]) * head
    return 2.0 * layers * (2 * h * h + 2 * h * kv + 3 * h * inter)


def matmul_peak_gflops(model_dir: str, rows: int, threads: int, dtype: str = "float32") -> float:
    """The best float matmul rate torch reaches on this CPU at the model's own MLP shapes (rows × hidden ×
    intermediate and back), the most any exact method can get out of the machine per position."""
    import torch

    torch.set_num_threads(threads)
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    h, inter = cfg["hidden_size"], cfg["intermediate_size"]
    dt = getattr(torch, dtype)
    best = 0.0
    for a, b in ((torch.randn(rows, h, dtype=dt), torch.randn(h, inter, dtype=dt)),
                 (torch.randn(rows, inter, dtype=dt), torch.randn(inter, h, dtype=dt))):
        for _ in range(3):
            a @ b
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(10):
                a @ b
            best = max(best, 2 * a.shape[0] * a.shape[1] * b.shape[1] * 10 / (time.perf_counter() - t0) / 1e9)
    return best


def worker(args: argparse.Namespace) -> None:
    import torch

    if args.threads > 0:  # 0: the hf backend sizes its threads itself
        torch.set_num_threads(args.threads)
    proto, reqs = load_requests(args.task, args.n, args.seed, "choice" if args.worker in ("choice", "lmeval", "choice-bf16") else "generate")
    t0 = time.perf_counter()
    if args.worker == "naive":
        judge, model = setup_naive(args.model, proto)
    elif args.worker in ("generate", "choice"):
        judge, model = setup_hf(args.model, proto, args.worker, threads=args.threads)
    elif args.worker == "choice-bf16":
        judge, model = setup_hf(args.model, proto, "choice", dtype="bfloat16", threads=args.threads)
    else:
        judge, model = setup_lmeval(args.model, proto, args.lmeval_batch_size)
    positions = count_positions(model)
    load_s = time.perf_counter() - t0
    loaded_rss = rss_mb()
    t0 = time.perf_counter()
    judge(reqs[:args.warmup])
    warm_s = time.perf_counter() - t0
    positions[0] = 0
    t0 = time.perf_counter()
    verdicts = judge(reqs)
    seconds = time.perf_counter() - t0
    print(json.dumps({"mode": args.worker, "n": len(reqs), "seconds": seconds, "load_s": load_s, "warmup_s": warm_s,
                      "verdicts": verdicts, "prompts": prompts_digest(reqs), "threads": torch.get_num_threads(),
                      "rss_loaded_mb": loaded_rss, "peak_rss_mb": peak_rss_mb(),
                      "positions": positions[0]}))


# -- the driver ----------------------------------------------------------------------------------------
def worker_cmd(mode: str, args: argparse.Namespace, threads: int | None = None) -> list[str]:
    return [sys.executable, __file__, "--worker", mode, "--n", str(args.n), "--task", args.task, "--seed",
            str(args.seed), "--threads", str(args.threads if threads is None else threads), "--warmup",
            str(args.warmup), "--model", args.model, "--lmeval-batch-size", args.lmeval_batch_size]


def run_mode(mode: str, args: argparse.Namespace, threads: int | None = None) -> dict[str, Any]:
    p = subprocess.run(worker_cmd(mode, args, threads), capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"mode {mode} failed (exit {p.returncode}):\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_concurrent(args: argparse.Namespace) -> None:
    """Choice scoring alone, then two identical runs at once; both size their threads themselves (threads 0)."""
    solo = run_mode("choice", args, threads=0)
    print(f"  concurrent: solo choice run {solo['seconds']:.1f} s with {solo['threads']} thread(s)", flush=True)
    procs = [subprocess.Popen(worker_cmd("choice", args, threads=0), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for i, p in enumerate(procs, 1):
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"concurrent run {i} failed (exit {p.returncode}):\n{err[-4000:]}")
        r = json.loads(out.strip().splitlines()[-1])
        ratio = r["seconds"] / solo["seconds"]
        print(f"  concurrent: run {i} {r['seconds']:.1f} s with {r['threads']} thread(s) = {ratio:.2f}x its solo "
              f"time   target <= {CONCURRENT_TARGET}x: {'met' if ratio <= CONCURRENT_TARGET else 'MISSED'}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="prompts (n/2 pairs, both orders)")
    ap.add_argument("--modes", default=",".join(DEFAULT_MODES), help=f"comma-separated subset of {','.join(MODES)}")
    ap.add_argument("--task", default="llmbar", help="judgebench pairwise task to draw the prompts from")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads in every mode")
    ap.add_argument("--warmup", type=int, default=4, help="prompts judged untimed first in every mode")
    ap.add_argument("--model", help="checkpoint directory (default: the converted embedded smollm2)")
    ap.add_argument("--lmeval-batch-size", default="16", help="HFLM batch_size (an integer or 'auto')")
    ap.add_argument("--json-out", help="also write all results (per-prompt verdicts included) to this file")
    ap.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("JUDGEBENCH_DATA_DIR", str((ROOT / ".." / "shared" / "data").resolve()))
    if args.model is None:
        from judgebench_hf.embedded import ensure_smollm2

        args.model = str(ensure_smollm2())
    if args.worker:
        worker(args)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = sorted(set(modes) - set(MODES) - {"concurrent"})
    if bad:
        raise SystemExit(f"unknown modes {bad}; choose from {', '.join(MODES)}, concurrent")
    if "concurrent" in modes:
        modes.remove("concurrent")
        print(f"two concurrent choice runs of {args.n} prompts, threads sized by judgebench; load average before: "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        run_concurrent(args)
        if not modes:
            return
    print(f"model: {args.model}\nprompts: {args.n} pairwise judge prompts from task {args.task!r} (seed {args.seed}), "
          f"float32, cpu, torch threads {args.threads}, warm-up {args.warmup} prompts, load excluded; "
          f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    res: dict[str, dict[str, Any]] = {}
    for m in modes:
        res[m] = r = run_mode(m, args)
        r["jps"] = r["n"] / r["seconds"]
        print(f"  {m:<11} {r['jps']:8.2f} judgments/s  ({r['n']} in {r['seconds']:.1f} s; load {r['load_s']:.1f} s, "
              f"warm-up {r['warmup_s']:.1f} s; threads {r['threads']}; RSS after load {r['rss_loaded_mb']:.0f} MB, "
              f"peak {r['peak_rss_mb']:.0f} MB; no verdict {sum(v is None for v in r['verdicts'])})", flush=True)
    digests = {r["prompts"] for r in res.values()}
    assert len(digests) == 1, f"modes judged different prompts: {digests}"
    print("forward positions (tokens pushed through the model, padding and decoding steps included) and speed:")
    for m, r in res.items():
        print(f"  {m:<11} {r['positions'] / r['n']:7.1f} per prompt   {r['positions'] / r['seconds']:8.0f} positions/s")
    if "choice" in res and "naive" in res:
        ceiling = (res["naive"]["positions"] / res["naive"]["n"]) / (res["choice"]["positions"] / res["choice"]["n"])
        print(f"  choice/naive ceiling at equal positions/s: {ceiling:.2f}x (exact scoring must encode every prompt "
              f"token not shared with another prompt; the 5x target needs the CPU to run choice's passes "
              f"{5 / ceiling:.1f}x faster per position than naive's)")
        per_prompt = res["choice"]["positions"] / res["choice"]["n"]
        peak = matmul_peak_gflops(args.model, max(1, round(per_prompt)), args.threads)
        flops = matmul_flops_per_position(args.model)
        best_jps = peak * 1e9 / (flops * per_prompt)
        print(f"  arithmetic bound: float32 matmul peak here at the model's MLP shapes {peak:.0f} GFLOP/s "
              f"({args.threads} threads); {flops / 1e6:.0f} MFLOP of matmuls per position; choice measured "
              f"{res['choice']['positions'] / res['choice']['seconds'] * flops / 1e9:.0f} GFLOP/s. Even at that "
              f"peak, choice could reach at most {best_jps:.2f} judgments/s = "
              f"{best_jps / res['naive']['jps']:.2f}x naive")
    print("ratios:")
    for a, b in (("choice", "naive"), ("choice", "lmeval"), ("generate", "naive"), ("choice-bf16", "naive")):
        if a in res and b in res:
            ratio = res[a]["jps"] / res[b]["jps"]
            t = TARGETS.get((a, b))
            verdict = "" if t is None else f"   target >= {t:.1f}x: {'met' if ratio >= t else 'MISSED'}"
            print(f"  {a}/{b}: {ratio:.2f}x{verdict}")
    print("verdict agreement (% of prompts with the same verdict letter):")
    for i, a in enumerate(modes):
        for b in modes[i + 1:]:
            va, vb = res[a]["verdicts"], res[b]["verdicts"]
            same = sum(x is not None and x == y for x, y in zip(va, vb))
            print(f"  {a} vs {b}: {100 * same / len(va):.1f}%")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"args": vars(args), "results": res}, indent=1))


if __name__ == "__main__":
    main()
