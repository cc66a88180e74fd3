"""Client CPU per request of one `judgebench run` (in-process, end to end) against the loopback chat server.

Prints process CPU / N, split into the main thread (setup, engine, store, scoring) and the others (the backend's
event-loop thread: the SDK), with the main thread's CPU per phase of the run.  CPU time, unlike wall time, stays
comparable on a loaded machine; compare two versions by running this for each, interleaved, same N.
`--warm` first runs 4 requests, so that one-time imports and first-call costs are left out; `--profile FILE`
writes a pstats file of every thread with a CPU clock (needs yappi, not a dependency of judgebench).

    python benchmarks/api_run_cpu.py --backend openai --n 300 --warm
    python benchmarks/api_run_cpu.py --backend litellm --n 300 --warm --profile litellm.prof
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

PHASES = ("resolve_tasks", "pin_endpoint", "build_backend", "guard_contamination", "_manifest", "_write_manifest",
          "_record_stop", "score_tasks", "summarize")


def timed_phases(runner: Any, engine: Any) -> dict[str, float]:
    """Wrap the run's phases (module functions of judgebench.runner, and Engine.run) to sum main-thread CPU."""
    spent: dict[str, float] = {}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.thread_time() - t
        return timed

    for name in PHASES:
        if hasattr(runner, name):
            setattr(runner, name, wrap(name, getattr(runner, name)))
    engine.Engine.run = wrap("engine", engine.Engine.run)
    return spent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("openai", "litellm"), default="openai")
    ap.add_argument("--model", help="default: judge-test (openai), openai/judge-test (litellm)")
    ap.add_argument("--n", type=int, default=300, help="requests (even: 2 per sample-task example)")
    ap.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--profile", help="write a pstats file (yappi, CPU clock, all threads)")
    args = ap.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from judgebench import engine, runner
    from judgebench.types import BackendSpec

    model = args.model or ("judge-test" if args.backend == "openai" else "openai/judge-test")
    server = subprocess.Popen([sys.executable, "-m", "judgebench_api.testing", "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline() if server.stdout else ""
    try:
        if not line.startswith("listening on "):
            raise SystemExit(f"test server did not start: {line!r}")
        opts = {"base_url": line.split()[-1], "concurrency": args.concurrency, "adaptive": False}
        spec = BackendSpec(args.backend, model, opts)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["JUDGEBENCH_CACHE_DIR"] = str(Path(tmp) / "cache")
            if args.warm:
                runner.execute(runner.RunConfig(backend=spec, task="sample", split="train", limit=2, cache=False),
                               run_dir=Path(tmp) / "warm")
            cfg = runner.RunConfig(backend=spec, task="sample", split="train", limit=args.n // 2, cache=False)
            spent = timed_phases(runner, engine)
            yappi = None
            if args.profile:
                import yappi
                yappi.set_clock_type("cpu")
                yappi.start(profile_threads=True)
            c0, m0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
            out = runner.execute(cfg, run_dir=Path(tmp) / "run")
            cpu, main_cpu, wall = time.process_time() - c0, time.thread_time() - m0, time.perf_counter() - t0
            if yappi is not None:
                yappi.stop()
                yappi.get_func_stats().save(args.profile, type="pstat")
    finally:
        server.terminate()
        server.wait(10)
    n = out.manifest["usage"]["n_judgments"]
    assert out.manifest["usage"]["errors"] == 0, out.manifest["usage"]
    print(f"{args.backend} {model}: N={n}, CPU {cpu:.3f} s = {1000 * cpu / n:.2f} ms/request (main thread "
          f"{1000 * main_cpu / n:.2f}, other threads {1000 * (cpu - main_cpu) / n:.2f}); wall {wall:.2f} s; "
          f"load {os.getloadavg()[0]:.1f}")
    print("main-thread CPU by phase (ms): " + ", ".join(f"{k} {1000 * v:.0f}" for k, v in spent.items()))


if __name__ == "__main__":
    main()
