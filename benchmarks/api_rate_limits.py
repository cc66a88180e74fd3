"""API rate limits: how close each client runs to a provider's limits, and how many 429s it draws on the way.

The loopback server (judgebench_api.testing, its own process) allows RPM requests and TPM tokens per window and
answers 429 + Retry-After + x-ratelimit-* beyond them; time is compressed (a "minute" of --window seconds) so a
run takes seconds.  Clients, on the sample task's pairwise judge requests:
  judgebench  `judgebench run --backend openai:…` end to end, with no limits configured: it learns them from the
              headers, paces requests with token buckets and adapts its concurrency (AIMD);
  lm-eval     lm-evaluation-harness `local-chat-completions` at several fixed num_concurrent values (it retries a
              429 with its own backoff, and fails the run after max_retries).
The achieved rates are counted by the server between its first and last admitted request of each client; the
binding limit is whichever of requests/min and tokens/min the client came closer to.

    nice -n 19 python benchmarks/api_rate_limits.py [--rpm 600] [--tpm 150000] [--window 20] [--n 800]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from judgebench_api.chat import chat_messages

from judgebench.engine import prepare_tasks
from judgebench.runner import RunConfig, execute
from judgebench.types import BackendSpec


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "judgebench_api.testing", "--latency", str(args.latency),
                             "--rpm", str(args.rpm), "--tpm", str(args.tpm), "--rate-window-s", str(args.window)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"test server did not start: {line!r}")
    return proc, line.split()[-1]


def counts(url: str, reset: bool = False) -> dict:
    req = urllib.request.Request(f"{url}/_limits", method="POST" if reset else "GET", data=b"" if reset else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def judgebench_client(url: str, n: int, tmp: Path) -> str:
    spec = BackendSpec("openai", "judge-test", {"base_url": url, "max_retries": 20})
    out = execute(RunConfig(backend=spec, task="sample", split="train", limit=n // 2, cache=False), run_dir=tmp)
    u = out.manifest["usage"]
    r = u.get("rates") or {}
    return (f"errors {u['errors']}, concurrency reached {r.get('concurrency_peak')}, "
            f"limits learnt {r.get('learned_from_headers')}")


def lm_eval_client(url: str, messages: list, concurrency: int) -> str:
    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr
    from lm_eval.models.openai_completions import LocalChatCompletion

    lm = LocalChatCompletion(base_url=f"{url}/chat/completions", model="judge-test", num_concurrent=concurrency,
                             max_retries=10, tokenized_requests=False, tokenizer_backend=None)
    inst = [Instance(request_type="generate_until", doc={}, idx=i,
                     arguments=(JsonChatStr(json.dumps(m)), {"max_gen_toks": 8, "until": []}))
            for i, m in enumerate(messages)]
    try:
        lm.generate_until(inst, disable_tqdm=True)
    except BaseException as e:  # noqa: BLE001 - a failed run is a result here
        return f"FAILED: {type(e).__name__}"
    return "ok"


def row(name: str, c: dict, wall: float, args: argparse.Namespace, note: str) -> float:
    span = c["span_s"] or float("nan")
    rpm_ratio = (c["accepted"] - 1) / span / (args.rpm / args.window)
    tpm_ratio = c["accepted_tokens"] / span / (args.tpm / args.window)
    share = c["limited"] / max(1, c["accepted"] + c["limited"])
    binding = max(rpm_ratio, tpm_ratio)
    print(f"{name:<46} {c['accepted']:>5} {c['limited']:>5} {100 * share:>6.2f}% {rpm_ratio:>8.3f} {tpm_ratio:>8.3f} "
          f"{binding:>8.3f} {wall:>7.1f}  {note}")
    return binding, share


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpm", type=int, default=600)
    ap.add_argument("--tpm", type=int, default=150_000)
    ap.add_argument("--window", type=float, default=20.0, help="seconds that stand for the limits' minute")
    ap.add_argument("--latency", type=float, default=0.3)
    ap.add_argument("--n", type=int, default=800, help="judgebench requests (even)")
    ap.add_argument("--lm-eval-n", type=int, default=200)
    ap.add_argument("--concurrency", default="4,16,64", help="lm-eval num_concurrent values")
    args = ap.parse_args()
    import logging

    logging.getLogger("lm-eval").setLevel(logging.CRITICAL)  # one log line per 429 otherwise
    logging.getLogger("lm_eval").setLevel(logging.CRITICAL)
    (task,) = prepare_tasks("sample", split="train", limit=args.lm_eval_n // 2)
    messages = [chat_messages(r, "assistant") for ex in task.examples for r in task.protocol.expand(ex)]
    server, url = start_server(args)
    print(f"server: {args.rpm} requests and {args.tpm} tokens per {args.window:g}-s window (a compressed minute), "
          f"latency {args.latency:g}s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'client':<46} {'ok':>5} {'429':>5} {'429 %':>7} {'of RPM':>8} {'of TPM':>8} {'binding':>8} {'wall s':>7}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            counts(url, reset=True)
            t0 = time.perf_counter()
            note = judgebench_client(url, args.n, Path(tmp) / "run")
            jb = row(f"judgebench run, openai (N={args.n})", counts(url, reset=True), time.perf_counter() - t0, args,
                     note)
        for c in [int(x) for x in args.concurrency.split(",") if x]:
            t0 = time.perf_counter()
            note = lm_eval_client(url, messages, c)
            row(f"lm-eval local-chat-completions c={c} (N={len(messages)})", counts(url, reset=True),
                time.perf_counter() - t0, args, note)
    finally:
        server.terminate()
        server.wait(10)
    ok = jb[0] >= 0.95 and jb[1] <= 0.01
    print(f"target: judgebench >= 0.95 of the binding limit with <= 1% 429s: {jb[0]:.3f} of the limit, "
          f"{100 * jb[1]:.2f}% 429s -> {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
