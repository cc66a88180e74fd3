"""Engine overhead: 10,000 judgments on a zero-latency backend, including the durable SQLite store.

Prints milliseconds per judgment for judgebench's full `run` path (expand, render, key, store lookup,
backend, parse, commit each judgment in WAL, score) and, as the named baseline measured in the same
run, a bare loop that renders and parses the same requests with no store.  Target: ≤ 0.2 ms/judgment.

    python benchmarks/overhead.py [--n 10000]
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from judgebench_baselines.baseline import BaselineBackend

from judgebench.engine import prepare_tasks
from judgebench.runner import RunConfig, execute
from judgebench.types import BackendSpec


def make_task(root: Path, n_pairs: int) -> Path:
    rng = random.Random(0)
    with (root / "rows.jsonl").open("w") as f:
        for i in range(n_pairs):
            f.write(json.dumps({"id": f"r{i}", "q": f"Question {i}: " + "word " * rng.randint(5, 40),
                                "a": "answer " * rng.randint(1, 60), "b": "reply " * rng.randint(1, 60),
                                "win": rng.randint(0, 1)}) + "\n")
    (root / "bench.yaml").write_text("name: overhead-bench\nloader: pairs\nsource:\n  path: rows.jsonl\n  fields: "
                                     "{id: id, prompt: q, candidate_fields: [a, b], label: win}\nprotocol: pairwise\n")
    return root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="judgments (2 per pair: both orders)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_task(Path(tmp), args.n // 2)
        cfg = RunConfig(backend=BackendSpec("baseline", "random"), task="overhead-bench", include_paths=[str(root)])

        t0 = time.perf_counter()  # a fixed cost of any run, not a per-judgment one: reported on its own line
        import judgebench.stats  # noqa: F401  (scipy.stats, for the CIs of the results table)
        import_s = time.perf_counter() - t0

        t0 = time.perf_counter()  # baseline: render + backend + parse, nothing stored
        tasks = prepare_tasks(cfg.task, include_paths=cfg.include_paths)
        backend = BaselineBackend("random")
        n_bare = 0
        for t in tasks:
            reqs = [r for ex in t.examples for r in t.protocol.expand(ex)]
            for r, c in zip(reqs, backend.generate(reqs)):
                t.protocol.parse(r, c)
                n_bare += 1
        bare = time.perf_counter() - t0

        t0 = time.perf_counter()
        out = execute(cfg, run_dir=Path(tmp) / "run", cache_path=Path(tmp) / "cache.sqlite")
        full = time.perf_counter() - t0
        n = out.manifest["usage"]["n_judgments"]
    assert n == n_bare == args.n, (n, n_bare)
    print(f"judgments: {n}")
    print(f"bare loop (render+backend+parse, no store): {1000 * bare / n:.4f} ms/judgment")
    print(f"judgebench run (durable store + cache):     {1000 * full / n:.4f} ms/judgment   target <= 0.2")
    print(f"ratio run/bare: {full / bare:.2f}x")
    print(f"(one-time import of scipy.stats for the CIs, before both timings: {import_s:.2f} s per process)")


if __name__ == "__main__":
    main()
