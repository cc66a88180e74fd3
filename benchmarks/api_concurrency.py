"""API concurrency: N requests to a loopback server that answers after L seconds, with C in flight.

The bound is N·L/C (perfect overlap); each client's ratio is bound/wall (1.0 = perfect; target ≥ 0.9).
Clients, on the same prompts (pairwise judge requests, both orders: the sample task's train split, 840 requests at
most, or for larger N the HH-RLHF harmless test set from ../shared/data, 4,614) and the same server:
  judgebench  `judgebench run --backend openai:…` end to end (engine, SQLite store, scoring included), and
              its backend phase alone (the time spent inside backend.stream);
  litellm     the same run through judgebench's litellm backend;
  lm-eval     lm-evaluation-harness `local-chat-completions` (LocalChatCompletion, num_concurrent=C);
  floor       a reference point, not a product path: judgebench's own request machinery (the backend's event-loop
              thread and bounded stream) driving bare aiohttp POSTs instead of the openai SDK — what any client on
              this machine and server can reach, so the gap between it and the SDK rows is the SDK's cost.
Client CPU per request (process user+sys time / N, measured around each client in the same process: for judgebench
the whole `judgebench run` — setup, engine, SQLite store, scoring, manifest; the median of the rounds after the
first, so the process's one-time imports do not count) is printed next to the walls.  CPU per request is what a loaded machine leaves
comparable; the wall ratios need an idle one.
The server runs in its own process (judgebench_api.testing, a test aid) so it does not share the clients' GIL.

Rows (N:L:C): 500:0.2:64 (the row lm-eval is compared on) and 2000:1:256 (a realistic hosted latency).
Targets: end-to-end ratio >= lm-eval's at L=0.2 s, C=64; >= 0.95 at L=1 s, C=256, N=2000; client CPU per
request end to end <= 1.5 ms (openai), <= 3 ms (litellm).

    python benchmarks/api_concurrency.py [--rows 500:0.2:64,2000:1:256] [--repeat 3]
    python benchmarks/api_concurrency.py --n 500 --latency 0.2 --concurrency 64     (one row)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from judgebench_api.chat import chat_messages
from judgebench_api.testing import default_reply

from judgebench.engine import prepare_tasks
from judgebench.runner import RunConfig, execute
from judgebench.types import BackendSpec


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "judgebench_api.testing", "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"test server did not start: {line!r}")
    return proc, line.split()[-1]


SAMPLE_REQUESTS = 840  # the sample task's train split: 420 pairs, both orders
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def row_task(n: int) -> tuple[str, str]:
    """The task and split that give n requests: the sample task, or HH-RLHF harmless (real data) for more."""
    if n <= SAMPLE_REQUESTS:
        return "sample", "train"
    os.environ.setdefault("JUDGEBENCH_DATA_DIR", str(DATA_DIR))
    return "hh-rlhf/harmless", "test"


def judgebench_run(backend: BackendSpec, n: int, tmp: Path) -> tuple[float, float, int]:
    """(whole-run wall, backend-phase wall, judgments) for a run of n requests."""
    task, split = row_task(n)
    cfg = RunConfig(backend=backend, task=task, split=split, limit=n // 2, cache=False)
    t0 = time.perf_counter()
    out = execute(cfg, run_dir=tmp / backend.name)
    wall = time.perf_counter() - t0
    assert out.manifest["usage"]["errors"] == 0, out.manifest["usage"]
    return wall, out.stats.backend_s, out.manifest["usage"]["n_judgments"]


def floor_run(url: str, messages: list[list[dict]], concurrency: int) -> tuple[float, float]:
    """(wall, client CPU s) of N bare aiohttp POSTs through judgebench_api.aio (the same loop thread and stream)."""
    import aiohttp
    from judgebench_api import aio

    loop = aio.LoopThread()
    session: list[aiohttp.ClientSession] = []

    async def one(i: int) -> str:
        if not session:
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)))
        body = {"model": "judge-test", "messages": messages[i], "max_tokens": 8}
        async with session[0].post(f"{url}/chat/completions", json=body) as resp:
            data = await resp.json()
        return data["choices"][0]["message"]["content"]

    async def close() -> None:
        if session:
            await session[0].close()

    try:
        c0, t0 = time.process_time(), time.perf_counter()
        texts = dict(aio.stream(loop, one, len(messages), concurrency))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        loop.stop(cleanup=close)
    assert [texts[i] for i in range(len(messages))] == [default_reply(m) for m in messages]
    return wall, cpu


def lm_eval_run(url: str, model: str, messages: list[list[dict]], concurrency: int) -> tuple[float, list[str]]:
    from lm_eval.api.instance import Instance
    from lm_eval.models.api_models import JsonChatStr
    from lm_eval.models.openai_completions import LocalChatCompletion

    lm = LocalChatCompletion(base_url=f"{url}/chat/completions", model=model, num_concurrent=concurrency,
                             max_retries=3, tokenized_requests=False, tokenizer_backend=None)
    instances = [Instance(request_type="generate_until", doc={}, idx=i,
                          arguments=(JsonChatStr(json.dumps(m)), {"max_gen_toks": 8, "until": []}))
                 for i, m in enumerate(messages)]
    t0 = time.perf_counter()
    out = lm.generate_until(instances, disable_tqdm=True)
    return time.perf_counter() - t0, out


CPU_TARGET_MS = {"openai": 1.5, "litellm": 3.0}
E2E = "judgebench run, {} backend (end to end)"


def parse_rows(text: str) -> list[tuple[int, float, int]]:
    rows = []
    for part in text.split(","):
        try:
            n, lat, c = part.split(":")
            rows.append((int(n), float(lat), int(c)))
        except ValueError:
            raise SystemExit(f"--rows: expected N:L:C[,N:L:C...] (e.g. 500:0.2:64), got {part!r}") from None
    return rows


def run_row(n: int, lat: float, c: int, repeat: int, with_litellm: bool) -> tuple[dict, dict]:
    """walls and CPU seconds per client name, ``repeat`` interleaved rounds on one server answering after ``lat``."""
    name, split = row_task(n)
    (task,) = prepare_tasks(name, split=split, limit=n // 2)
    reqs = [r for ex in task.examples for r in task.protocol.expand(ex)]
    messages = [chat_messages(r, "assistant") for r in reqs]
    assert len(reqs) == n, f"task {task.name} gives {len(reqs)} requests, not {n}"
    server, url = start_server(lat)
    walls: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    opts = {"base_url": url, "concurrency": c, "adaptive": False}  # a fixed C, as lm-eval's num_concurrent
    backends = [("openai", BackendSpec("openai", "judge-test", opts))]
    if with_litellm:
        backends.append(("litellm", BackendSpec("litellm", "openai/judge-test", opts)))
    try:
        for rnd in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                for name, spec in backends:
                    c0 = time.process_time()
                    wall, phase, got = judgebench_run(spec, n, Path(tmp) / str(rnd))
                    cpus.setdefault(E2E.format(name), []).append(time.process_time() - c0)
                    assert got == n
                    walls.setdefault(E2E.format(name), []).append(wall)
                    walls.setdefault(f"judgebench {name} backend, request phase", []).append(phase)
            c0 = time.process_time()
            wall, texts = lm_eval_run(url, "judge-test", messages, c)
            lm_name = f"lm-eval local-chat-completions (num_concurrent={c})"
            cpus.setdefault(lm_name, []).append(time.process_time() - c0)
            assert texts == [default_reply(m) for m in messages], "lm-eval got other answers"
            walls.setdefault(lm_name, []).append(wall)
            wall, cpu = floor_run(url, messages, c)
            walls.setdefault("floor: bare aiohttp in judgebench's loop thread", []).append(wall)
            cpus.setdefault("floor: bare aiohttp in judgebench's loop thread", []).append(cpu)
    finally:
        server.terminate()
        server.wait(10)
    return walls, cpus


def warm_cpu_ms(cpu_s: list[float], n: int) -> float:
    """Median CPU ms per request over the rounds after the first (the first pays the imports), or the only one."""
    return 1000 * statistics.median(cpu_s[1:] or cpu_s) / n


def report_row(n: int, lat: float, c: int, repeat: int, walls: dict, cpus: dict) -> None:
    bound = n * lat / c
    print(f"\nN={n} requests, server latency L={lat:g}s, concurrency C={c}: bound N·L/C = {bound:.3f}s "
          f"({repeat} interleaved rounds; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'client':<58} {'best s':>7} {'median s':>8} {'bound/best':>10} {'bound/median':>12} {'CPU ms/req':>10}")
    for name, ws in walls.items():
        best, med = min(ws), statistics.median(ws)
        cpu = f"{warm_cpu_ms(cpus[name], n):10.2f}" if name in cpus else f"{'':>10}"
        print(f"{name:<58} {best:>7.3f} {med:>8.3f} {bound / best:>10.3f} {bound / med:>12.3f} {cpu}")
    lm = next(k for k in walls if k.startswith("lm-eval"))
    lm_ratio = bound / min(walls[lm])
    e2e = bound / min(walls[E2E.format("openai")])
    if abs(lat - 0.2) < 1e-9 and c == 64:
        print(f"target end to end >= lm-eval's ratio ({lm_ratio:.3f}): openai {e2e:.3f} (best round) -> "
              f"{'met' if e2e >= lm_ratio else 'MISSED'}")
    if abs(lat - 1.0) < 1e-9 and c == 256 and n == 2000:
        print(f"target end to end >= 0.95 of the bound: openai {e2e:.3f} (best round) -> "
              f"{'met' if e2e >= 0.95 else 'MISSED'}")
    for name, limit in CPU_TARGET_MS.items():
        if E2E.format(name) in cpus:
            ms = warm_cpu_ms(cpus[E2E.format(name)], n)
            print(f"target client CPU <= {limit:g} ms/request end to end, {name}: {ms:.2f} (warm rounds) -> "
                  f"{'met' if ms <= limit else 'MISSED'}")
    print(f"lm-eval on the same server: {lm_ratio:.3f} at {warm_cpu_ms(cpus[lm], n):.2f} ms/request")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="500:0.2:64,2000:1:256",
                    help="N:L:C[,N:L:C...]: requests (even: 2 per pair), server latency s, concurrency")
    ap.add_argument("--n", type=int, help="one row of N requests (with --latency and --concurrency) instead of --rows")
    ap.add_argument("--latency", type=float, default=0.2, help="server latency per request, seconds (with --n)")
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight (with --n)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each client runs once per round, interleaved")
    ap.add_argument("--skip-litellm", action="store_true")
    args = ap.parse_args()
    rows = [(args.n, args.latency, args.concurrency)] if args.n else parse_rows(args.rows)
    if not args.skip_litellm:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm  # noqa: F401  (imported before timing: the import alone takes seconds)
    results = [(row, run_row(*row, args.repeat, not args.skip_litellm)) for row in rows]
    for (n, lat, c), (walls, cpus) in results:
        report_row(n, lat, c, args.repeat, walls, cpus)
    print("\nwall ratios are only meaningful on an idle machine; CPU per request is much less sensitive to load")


if __name__ == "__main__":
    main()
