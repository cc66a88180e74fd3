"""`judgebench tune`: train a new judge (DPO) on a task's preference data, optionally score it against its base."""
from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, ContextManager

import yaml

from ..backend import MODES, mode_name
from ..errors import ConfigError
from ..specs import parse_backend_spec
from ..types import BackendSpec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="tune a judge (DPO) on a task's train items; optionally evaluate it on held-out items")
    p.add_argument("--tuner", default="dpo", help="tuner plugin (default dpo; see `judgebench list tuner`)")
    p.add_argument("--base", "-b", required=True, help="the backend to start from, e.g. hf:smollm2 or hf:<dir|hub id>")
    p.add_argument("--base-opt", action="append", default=[], metavar="KEY=VALUE", help="base backend option (YAML value)")
    p.add_argument("--task", "-t", required=True, help="task (or group) whose items are turned into preference pairs")
    p.add_argument("--split", help="data split to train on (default: the task's)")
    p.add_argument("--ids-file", help="train only on these ids: a split's train.json (or a split directory), or one id "
                                      "per line")
    p.add_argument("--include-path", action="append", default=[], help="directory of your own task YAML files")
    p.add_argument("--limit", type=int, help="only the first N training examples")
    p.add_argument("--seed", type=int, default=0, help="seed for placements and the tuner (default 0)")
    p.add_argument("--mode", choices=MODES, type=mode_name, default="choice",
                   help="judging mode the prompts are rendered for and the evaluation uses (default choice)")
    p.add_argument("--out", "-o", required=True, help="directory of the tuned judge (adapter, backend.yaml, provenance)")
    p.add_argument("--config", "-c", help="tune.yaml: level, swap, reference_drop, dpo: {...}, lora: {...}")
    p.add_argument("--level", choices=["verdict", "response"], help="pair level (overrides the config; default verdict)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config value, e.g. dpo.max_steps=20 or lora.r=8 (VALUE is YAML; repeatable)")
    p.add_argument("--eval", metavar="TASK", help="after training, score base and tuned judge on TASK's held-out items")
    p.add_argument("--eval-ids-file", help="held-out ids (default: test.json beside --ids-file)")
    p.add_argument("--eval-split", help="split to evaluate on (default: the eval task's)")
    p.add_argument("--eval-limit", type=int, help="only the first N held-out examples")
    p.add_argument("--eval-baseline", action="append", default=[], metavar="BACKEND",
                   help="also judge the held-out items with this backend (e.g. baseline:longer), in the same table")
    p.add_argument("--runs-root", default="runs", help="where the evaluation run directories go")
    p.add_argument("--allow-contaminated", action="store_true",
                   help="evaluate even on items the tuned judge was trained on (the run is marked contaminated)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def apply_sets(sets: list[str]) -> dict[str, Any]:
    """``a.b=VALUE`` flags as a nested dict of overrides."""
    out: dict[str, Any] = {}
    for s in sets:
        key, eq, val = s.partition("=")
        if not eq or not key:
            raise ConfigError(f"--set {s!r}: expected KEY=VALUE")
        *parents, leaf = key.split(".")
        d = out
        for part in parents:
            d = d.setdefault(part, {})
        d[leaf] = yaml.safe_load(val) if val else ""
    return out


def training_ids(ids_file: str | None) -> tuple[list[str] | None, dict[str, Any] | None]:
    """The training ids and, for a split file or directory, the split (``judgebench.splits.load_split``)."""
    if not ids_file:
        return None, None
    from ..runner import read_ids
    from ..splits import TEST, TRAIN, load_split

    p = Path(ids_file)
    if p.is_dir() or (p.name in (TRAIN, TEST) and (p.parent / TRAIN).exists() and (p.parent / TEST).exists()):
        split = load_split(p)
        side = "test" if p.name == TEST else "train"
        return split[side], {**split, "side": side}
    if not p.is_file():
        raise ConfigError(f"--ids-file {ids_file}: no such file")
    return read_ids(str(p)), None


def held_out_ids_file(args: argparse.Namespace, split: dict[str, Any] | None) -> str | None:
    if args.eval_ids_file:
        return args.eval_ids_file
    if split is not None and split["side"] == "train":
        from ..splits import TEST
        return str(Path(split["path"]) / TEST)
    return None


def run(args: argparse.Namespace) -> int:
    base = parse_backend_spec(args.base, args.base_opt)
    if int(os.environ.get("RANK", "0")) != 0:  # `accelerate launch`'s other ranks follow rank 0, which holds the lock
        return _tune(args, base)
    from ..dirlock import DirLock

    lock = DirLock(Path(args.out), "tune").acquire()  # one tune per --out, released when this command ends
    try:
        return _tune(args, base)
    finally:
        lock.release()


def _tune(args: argparse.Namespace, base: BackendSpec) -> int:
    from .. import registry
    from ..console import print_table, progress_bar
    from ..resolve import resolve_tasks

    ids, split = training_ids(args.ids_file)
    tasks = resolve_tasks(args.task, split=args.split, include_paths=args.include_path, limit=args.limit,
                          seed=args.seed, mode=args.mode, ids=ids).tasks
    parts = [(t.examples, t.protocol) for t in tasks if t.examples]
    if not parts:
        raise ConfigError(f"task {args.task}: no training examples (check --split / --ids-file)")
    tuner = registry.load("tuner", args.tuner)()
    overrides = apply_sets(args.set)
    if args.level:
        overrides["level"] = args.level
    opts = {"config": args.config, "overrides": overrides, "quiet": args.quiet, "task_info": {
        "name": args.task, "mode": args.mode, "seed": args.seed, "include_paths": args.include_path,
        "tasks": {t.name: {"split": t.split, "data_hash": t.data_hash, "task_hash": t.task_hash(args.seed, args.mode),
                           "n_examples": len(t.examples), "protocol": t.spec.protocol} for t in tasks}},
        "split_info": {"split": args.split, "ids_file": str(Path(args.ids_file).resolve()) if args.ids_file else None,
                       **({"split_dir": str(Path(split["path"]).resolve()), "side": split["side"], "task": split["task"],
                           "seed": split["seed"], "manifest": split["manifest"]} if split else {})}}
    if len(parts) == 1:
        tuned = tuner.tune(base, parts[0][0], parts[0][1], Path(args.out), **opts)
    elif hasattr(tuner, "tune_parts"):
        tuned = tuner.tune_parts(base, parts, Path(args.out), **opts)
    else:
        raise ConfigError(f"tuner '{args.tuner}' trains on one task at a time; {args.task} has {len(parts)}")
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # `accelerate launch`: the other processes only train; rank 0 reports and evaluates
    result: dict[str, Any] = {"tuned": tuned.to_dict(), "out": str(Path(args.out).resolve())}
    if not args.json:
        print(f"tuned judge: {args.out}  (use --backend {args.out}); provenance: {Path(args.out) / 'provenance.json'}")
    if args.eval:
        from ..runner import RunConfig

        eval_ids = held_out_ids_file(args, split)
        rc = RunConfig(backend=base, task=args.eval, split=args.eval_split, seed=args.seed, limit=args.eval_limit,
                       mode=args.mode, include_paths=list(args.include_path), ids_file=eval_ids,
                       allow_contaminated=args.allow_contaminated)
        progress = None if args.quiet else progress_bar
        extra = [parse_backend_spec(b, []) for b in args.eval_baseline]
        comparison = evaluate_pair(base, tuned, rc, runs_root=Path(args.runs_root), progress=progress, seed=args.seed,
                                   others=extra)
        (Path(args.out) / "eval.json").write_text(json.dumps(comparison, indent=2, default=str))
        result["eval"] = {"ids_file": eval_ids, "summary": comparison["summary"],
                          "runs": [r["run_dir"] for r in comparison["runs"]]}
        if not args.json:
            print_table(render_summary(comparison["summary"]))
            print(f"held-out: {eval_ids or args.eval_split or 'the task default split'}; runs: "
                  + ", ".join(result["eval"]["runs"]) + f"; full comparison: {Path(args.out) / 'eval.json'}")
        if any(r["contaminated"] for r in comparison["runs"]):
            print("WARNING: CONTAMINATED — the tuned judge was evaluated on items it was trained on", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0


def evaluate_pair(base: BackendSpec, tuned: BackendSpec, cfg: Any, *, runs_root: Path = Path("runs"),
                  progress: Callable[[str], ContextManager[Any]] | None = None, seed: int = 0,
                  others: list[BackendSpec] | None = None) -> dict[str, Any]:
    """Run ``cfg`` (a RunConfig: task, split or ids file, mode) with the base and with the tuned judge (and any
    ``others``, e.g. ``baseline:longer``) and build their paired comparison, base as reference: accuracy with 95%
    CIs, paired difference, exact McNemar and swap (position) consistency.  Where items were judged in both
    orders, the position-calibrated score (``calibrated_verdict``) gets its own, labelled rows.  The run engine's
    contamination guard applies to the tuned judge."""
    from ..runner import execute

    run_dirs = []
    specs = [base, tuned, *(others or [])]
    for spec in specs:
        c = replace(cfg, backend=spec)
        with (progress(f"judging {cfg.task} with {spec.label()}") if progress else nullcontext()) as update:
            run_dirs.append(execute(c, runs_root=runs_root, progress=update).run_dir)
    return paired_comparison(run_dirs, task=cfg.task, seed=seed)


def paired_comparison(run_dirs: list[Any], task: str, seed: int = 0) -> dict[str, Any]:
    """The comparison ``tune --eval`` prints, of finished runs on the same held-out items: the first is the base
    (the reference), the second the tuned judge, any others baselines.  A task group also gets all its items pooled
    (one paired test); runs judged in both orders also get position-calibrated rows."""
    from ..report.compare import build_comparison, calibrated_run
    from ..results import load_run

    runs = [load_run(d) for d in run_dirs]
    roles = {str(Path(d).resolve()): role for d, role in zip(run_dirs, ["base", "tuned"] + ["baseline"] * len(runs))}
    comparison = build_comparison(runs, reference=0, seed=seed)
    comparison["summary"] = summary(comparison, roles)
    views = [(runs, "")]
    if len(comparison["tasks"]) > 1:  # a task group: also all held-out items pooled (one paired test, tighter CIs)
        name = f"{task} (all items)"
        views = [([pooled_run(r, name) for r in runs], "pooled")]
        pooled = build_comparison(views[0][0], reference=0, seed=seed)
        comparison["pooled"] = {"task": name, "rows": pooled["rows"], "bias": pooled["bias"]}
        comparison["summary"] += summary(pooled, roles)
    for view, _ in views:
        cal = [calibrated_run(r) for r in view]
        if all(c is not None for c in cal[:2]):
            calibrated = build_comparison(cal, reference=0, seed=seed)
            comparison["calibrated"] = {"rows": calibrated["rows"]}
            comparison["summary"] += summary(calibrated, roles)
    return comparison


def pooled_run(run: Any, name: str) -> Any:
    """``run`` with the items of all its tasks as one task ``name`` (micro average; ids prefixed by their task)."""
    from ..types import stable_hash

    items = [replace(it, task=name, example_id=f"{it.task}/{it.example_id}") for it in run.items if it.task in run.tasks]
    info = {"aggregate": "micro", "task_hash": stable_hash(sorted(run.tasks.items()), 16), "pooled": sorted(run.tasks)}
    return replace(run, items=items, tasks={name: info["task_hash"]},
                   manifest={**run.manifest, "tasks": {name: info}})


def summary(c: dict[str, Any], roles: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per judge and task (group rows included): n, accuracy [CI], Δ vs base [CI], paired p (exact McNemar,
    or the permutation test on official/group aggregates), position (swap) consistency."""
    out = []
    dirs = {x["name"]: str(Path(x["run_dir"]).resolve()) for x in c.get("runs", [])}
    for r in c["rows"]:
        if r["category"] != "all":
            continue
        pos = next((b["position"]["swap_consistency"] for b in c["bias"]
                    if b["run"] == r["run"] and b["task"] == r["task"]), None)
        role = (roles or {}).get(dirs.get(r["run"], "")) or ("base" if r["paired_n"] is None else "tuned")
        out.append({"judge": role, "run": r["run"], "backend": r["backend"],
                    "task": r["task"], "n": r["n"], "accuracy": r["score"], "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"], "diff": r["diff"], "diff_low": r["diff_low"], "diff_high": r["diff_high"],
                    "p_value": r["p_value"], "test": r.get("test"), "wins": r["wins"], "losses": r["losses"],
                    "position_consistency": pos})
    return out


def render_summary(rows: list[dict[str, Any]]) -> Any:
    """A rich table of :func:`summary` rows."""
    from rich.table import Table

    from ..console import fmt_pct
    from ..report.tables import p_cell

    def pp(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:+.1f}"

    t = Table(title="Base vs tuned judge on held-out items (paired)",
              caption="accuracy: mean credit, 95% bootstrap CI; Δ: tuned − base in points, paired bootstrap CI; "
                      "p: exact McNemar († paired permutation test of a group's mean of tasks); w/l = items only the "
                      "tuned / only the base judge got right; position "
                      "consistency: share of items judged the same in both orders.", caption_justify="left")
    for h in ("judge", "task", "n", "accuracy % [95% CI]", "Δ pp [95% CI]", "paired p (w/l)",
              "position consistency % [95% CI]"):
        t.add_column(h, justify="left" if h in ("judge", "task") else "right")
    for r in rows:
        pos = r["position_consistency"] or {}
        t.add_row(f"{r['judge']} ({r['backend']})", r["task"], str(r["n"]),
                  f"{fmt_pct(r['accuracy'])} [{fmt_pct(r['ci_low'])}, {fmt_pct(r['ci_high'])}]",
                  "reference" if r["diff"] is None else f"{pp(r['diff'])} [{pp(r['diff_low'])}, {pp(r['diff_high'])}]",
                  "" if r["p_value"] is None else f"{p_cell(r['p_value'], r['test'])} ({r['wins']}/{r['losses']})",
                  "—" if pos.get("rate") is None else
                  f"{fmt_pct(pos['rate'])} [{fmt_pct(pos['ci_low'])}, {fmt_pct(pos['ci_high'])}] n={pos['n']}")
    return t
