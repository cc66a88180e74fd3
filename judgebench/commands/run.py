"""`judgebench run`: score a judge backend on a task (resumable; cached by content)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..backend import MODES, mode_name
from ..errors import ConfigError
from ..specs import add_backend_args, parse_backend_spec

RUN_FLAGS = {"task": None, "split": None, "seed": 0, "limit": None, "sample": None, "mode": "generate",
             "include_path": [], "skip_invalid": False, "max_cost": None, "batch_size": None, "ids_file": None,
             "allow_contaminated": False}


def add_task_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", "-t", help="task or task group name (see `judgebench list task`)")
    p.add_argument("--split", help="data split (default: the task's)")
    p.add_argument("--seed", type=int, help="seed for placements, order and sampling (default 0)")
    p.add_argument("--limit", type=int, help="only the first N examples of each task (file order)")
    p.add_argument("--sample", type=int, metavar="N",
                   help="a seeded sample of N examples of each task, stratified by category (see --seed)")
    p.add_argument("--mode", choices=MODES, type=mode_name,  # type: the deprecated choice_logprobs is choice
                   help="parse generated text, or compare choice log-probs")
    p.add_argument("--include-path", action="append", help="directory of your own task YAML files (repeatable)")
    p.add_argument("--skip-invalid", action="store_true", default=None, help="skip bad rows (counted) instead of failing")
    p.add_argument("--ids-file", help="only the example ids in this file (a split's test.json or one id per line)")
    p.add_argument("--config", help="run.yaml with any of these settings; flags win")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="score a judge on a task")
    add_backend_args(p, required=False)
    add_task_args(p)
    p.add_argument("--max-cost", type=float, help="stop cleanly before spending more than this many USD")
    p.add_argument("--batch-size", type=int, help="requests per backend call (default: the backend's)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the shared judgment cache")
    p.add_argument("--run-dir", help="run directory (default: runs/<task>__<backend>__<config hash>)")
    p.add_argument("--runs-root", default="runs", help="where default run directories go")
    p.add_argument("--resume", metavar="RUN", help="finish the run in this directory with its saved config")
    p.add_argument("--allow-contaminated", action="store_true", default=None,
                   help="evaluate a tuned judge on items it was trained on (the run is marked contaminated)")
    p.add_argument("--json", action="store_true", help="print the summary rows as JSON instead of a table")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="show the libraries' own progress bars, logs and warnings (hidden by default)")
    p.add_argument("--log-file", metavar="PATH", help="append log records and warnings (with times) to this file")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):  # -> RunConfig
    from ..runner import CONFIG, RunConfig, read_run_config
    from ..validate import check_flags, check_settings, read_yaml_mapping

    check_flags(args)
    if args.resume:
        f = Path(args.resume) / CONFIG
        if not f.exists():
            raise ConfigError(f"--resume {args.resume}: no {CONFIG} there")
        return read_run_config(f), Path(args.resume)
    base: dict[str, Any] = {}
    if args.config:
        base = read_yaml_mapping(Path(args.config), "--config")
        unknown = set(base) - set(RUN_FLAGS) - {"backend", "backend_opt", "include_paths", "cache"}
        if unknown:
            raise ConfigError(f"--config {args.config}: unknown keys {sorted(unknown)}")
        check_settings(base, f"--config {args.config}")
    merged = {k: base.get(k, default) for k, default in RUN_FLAGS.items()}
    for k in RUN_FLAGS:
        v = getattr(args, k, None)
        if v is not None:
            merged[k] = v
    backend = args.backend or base.get("backend")
    if not backend or not merged["task"]:
        raise ConfigError("run needs --backend and --task (or a --config that sets them)")
    if isinstance(backend, dict):
        from ..types import BackendSpec
        spec = BackendSpec.from_dict(backend)
        extra = parse_backend_spec(spec.name, args.backend_opt).options
        spec = BackendSpec(spec.name, spec.model, {**spec.options, **extra})
    else:
        spec = parse_backend_spec(str(backend), [*base.get("backend_opt", []), *args.backend_opt])
    cfg = RunConfig(backend=spec, task=merged["task"], split=merged["split"], seed=merged["seed"],
                    limit=merged["limit"], sample=merged["sample"], mode=merged["mode"],
                    include_paths=_paths(merged["include_path"] or base.get("include_paths")),
                    skip_invalid=bool(merged["skip_invalid"]), max_cost=merged["max_cost"],
                    batch_size=merged["batch_size"], cache=not args.no_cache and base.get("cache", True),
                    ids_file=merged["ids_file"], allow_contaminated=bool(merged["allow_contaminated"]))
    return cfg, (Path(args.run_dir) if args.run_dir else None)


def _paths(v: Any) -> list[str]:
    return [v] if isinstance(v, str) else list(v or [])


def run(args: argparse.Namespace) -> int:
    from ..api import run_config
    from ..console import print_table, results_table

    cfg, run_dir = config_from_args(args)
    if args.max_cost is not None:
        cfg.max_cost = args.max_cost
    if args.no_cache:
        cfg.cache = False
    out = run_config(cfg, runs_root=args.runs_root, run_dir=run_dir, progress=not args.quiet)  # the Python API
    if args.json:
        print(json.dumps({"run_dir": str(out.run_dir), "rows": out.rows, "usage": out.manifest["usage"]}, indent=2))
    else:
        print_table(results_table(out.rows, title=f"{cfg.backend.label()} on {cfg.task} ({cfg.mode})"))
        u = out.manifest["usage"]
        cost = "" if u["cost_usd"] is None else f", ${u['cost_usd']:.4f}"
        print(f"run dir: {out.run_dir}  judgments: {u['n_judgments']} (sent now: {out.stats.sent}, from cache: "
              f"{out.stats.from_cache}, already done: {out.stats.already_done}), truncated: {u['truncated']}, "
              f"retries: {u['retries']}{cost}")
        r = u.get("rates")
        if r and r.get("achieved_rpm"):
            print(f"rates: {r['achieved_rpm']:.0f} requests/min, {r['achieved_tpm'] or 0:.0f} tokens/min, "
                  f"429s: {r['n_429']}, concurrency reached: {r['concurrency_peak']}")
        skipped = sum(len(t["skipped_invalid"]) for t in out.manifest["tasks"].values())
        if skipped:
            print(f"skipped invalid rows: {skipped} (listed in {out.run_dir / 'manifest.json'})")
        if out.manifest.get("contaminated_items"):
            print(f"WARNING: CONTAMINATED — the judge was trained on {len(out.manifest['contaminated_items'])} of these items")
    bad = sum(r["errors"] + r["missing"] for r in out.rows if r["category"] == "all")
    if bad:
        print(f"{bad} item(s) ended in an error; re-run the same command to retry them", file=sys.stderr)
        return 4
    return 0
