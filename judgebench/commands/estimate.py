"""`judgebench estimate`: a dry run — how many requests a run would send, their tokens and expected cost."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..specs import add_backend_args


def register(sub: argparse._SubParsersAction) -> None:
    from .run import add_task_args

    p = sub.add_parser("estimate", help="dry run: requests, prompt tokens and expected cost (nothing is sent)")
    add_backend_args(p, required=False)
    add_task_args(p)
    p.add_argument("--run-dir", help="count only what this run directory has not judged yet")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run, resume=None, no_cache=False)


def run(args: argparse.Namespace) -> int:
    from ..backend import dry_run
    from ..costs import cost_usd, estimate_tokens
    from ..engine import pending_requests
    from ..resolve import resolve_tasks
    from ..runner import build_backend
    from ..store import RunStore
    from .run import config_from_args

    cfg, run_dir = config_from_args(args)
    tasks = resolve_tasks(cfg.task, split=cfg.split, include_paths=cfg.include_paths, limit=cfg.limit, seed=cfg.seed,
                          mode=cfg.mode, skip_invalid=cfg.skip_invalid, sample=cfg.sample).tasks
    with dry_run():  # nothing is sent: an API backend needs no key here
        backend = build_backend(cfg.backend)
    try:
        done: dict[str, str] = {}
        if run_dir and Path(run_dir).exists():
            store = RunStore(Path(run_dir), None)
            done = store.done()
            store.close()
        reqs = [r for t in tasks for r in pending_requests(t, done)[0]]
        prompt, completion = estimate_tokens(backend, reqs, cfg.mode)
        prices = backend.prices()
        cost = cost_usd(prices, prompt, completion)
        out = {"requests": len(reqs), "examples": sum(len(t.examples) for t in tasks), "prompt_tokens": prompt,
               "max_completion_tokens": completion, "usd_per_mtok": prices, "expected_max_cost_usd": cost,
               "token_counter": backend.info().get("token_counter", "backend")}
        discount = getattr(getattr(backend, "opts", None), "batch_discount", None)  # hosted APIs: the Batch API price
        if discount is not None:
            out["expected_max_cost_batch_api_usd"] = None if cost is None else cost * discount
    finally:
        backend.close()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:>24}: {format_figure(k, v)}")
        if cost is None:
            print("(no prices known for this backend; set input_per_mtok/output_per_mtok)")
    return 0


def format_figure(key: str, value: object) -> str:
    """Money as $0.0474, counts with thousands separators (12,345), prices per million tokens as $0.15 / $0.60."""
    if value is None:
        return "unknown"
    if key.endswith("_usd") and isinstance(value, (int, float)):
        return f"${value:,.4f}" if value < 1000 else f"${value:,.2f}"
    if key == "usd_per_mtok" and isinstance(value, (list, tuple)):
        return " / ".join(f"${float(x):g}" for x in value) + " per million tokens (input / output)"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" + (" tokens" if key.endswith("_tokens") else "")
    return str(value)
