"""Run a judge-tuning recipe end to end: split → (validation carve) → tune → paired evaluation on held-out items.

    python recipes/run.py recipes/smollm2-judge.yaml --work work/smollm2-judge
    python recipes/run.py recipes/smollm2-judge.yaml --work work/sweep --validate --set dpo.learning_rate=1e-3

Every step is a plain `judgebench` command (printed before it runs), so a reader can rerun any of them by hand.
With ``--validate`` the held-out items are a validation split carved from the train side (never the test side),
and training uses the recipe's smaller ``validation.limit_per_task``: this is how the recipe's settings are chosen.
Each finished run appends one line (settings, timings, pooled scores) to ``WORK/results.jsonl``.  Rerun with the
same settings, a judge that is tuned and evaluated already is not trained again (the later steps run).
``extract: {rank, token_rows}`` (with a full-parameter tune, ``tune.lora: false``) turns the tuned model into a LoRA
adapter (``extract_lora.py``) and evaluates it on the same held-out items (``JUDGE/adapter/eval.json``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

KEYS = {"task", "seed", "split", "validation", "base", "base_options", "mode", "limit_per_task", "train_items", "tune",
        "eval", "extract"}
EXTRACT_KEYS = {"rank", "token_rows"}  # extract: a full-parameter judge made into a LoRA adapter (extract_lora.py)
HERE = Path(__file__).resolve().parent


def load_recipe(path: Path, sets: list[str]) -> dict[str, Any]:
    recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(recipe, dict):
        raise SystemExit(f"{path}: expected a mapping at the top level")
    unknown = sorted(set(recipe) - KEYS)
    if unknown:
        raise SystemExit(f"{path}: unknown key(s) {unknown}; allowed: {sorted(KEYS)}")
    bad = sorted(set(recipe.get("extract") or {}) - EXTRACT_KEYS)
    if bad:
        raise SystemExit(f"{path}: extract: unknown key(s) {bad}; allowed: {sorted(EXTRACT_KEYS)}")
    for s in sets:  # --set dpo.learning_rate=1e-3 (inside `tune:`), or limit_per_task=32 (top level)
        key, eq, val = s.partition("=")
        if not eq:
            raise SystemExit(f"--set {s!r}: expected KEY=VALUE")
        parts = key.split(".")
        d = recipe if parts[0] in KEYS else recipe.setdefault("tune", {})
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = yaml.safe_load(val)
    return recipe


def sh(cmd: list[str], log: Path) -> float:
    """Run one judgebench command, echoing it; its output goes to the terminal and to ``log``."""
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    t0 = time.time()
    with log.open("a") as f:
        f.write("$ " + " ".join(shlex.quote(c) for c in cmd) + "\n")
        f.flush()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        f.write(p.stdout)
    print(p.stdout, end="", flush=True)
    if p.returncode != 0:
        raise SystemExit(f"step failed with exit {p.returncode}: see {log}")
    return time.time() - t0


def carve_validation(split_dir: Path, out: Path, recipe: dict[str, Any]) -> None:
    """A validation split carved from the train side of ``split_dir`` (seeded, stratified, groups kept whole)."""
    from judgebench.commands.split import task_examples
    from judgebench.splits import load_split, write_split

    split = load_split(split_dir)
    train = set(split["train"])
    examples, leaves = task_examples(recipe["task"], None, [], False)
    examples = [e for e in examples if e.id in train]
    write_split(out, recipe["task"], examples, float(recipe["validation"]["test_size"]), int(recipe["seed"]),
                force=True, leaf_tasks=leaves, data_split=None)


def sample_train(split_dir: Path, out: Path, recipe: dict[str, Any], n: int) -> Path:
    """A split directory whose train side is a seeded sample of ``n`` train items, drawn from each leaf task in
    proportion to its share of the train side (so the training mix matches the held-out mix); the test side is
    the original one, unchanged.  Returns ``out / "train.json"``."""
    import random

    from judgebench.resolve import resolve_tasks
    from judgebench.splits import MANIFEST, TEST, TRAIN, load_split

    split = load_split(split_dir)
    train = set(split["train"])
    by_leaf = {t.name: sorted(e.id for e in t.examples if e.id in train) for t in resolve_tasks(recipe["task"])}
    total = sum(len(ids) for ids in by_leaf.values())
    if n >= total:
        raise SystemExit(f"train_items: {n} is not below the {total} train items of {split_dir}")
    rng = random.Random(f"{recipe.get('seed', 0)}:train_items:{n}")
    picked: list[str] = []
    for leaf, ids in sorted(by_leaf.items()):
        picked += rng.sample(ids, min(len(ids), max(1, round(n * len(ids) / total))))
    out.mkdir(parents=True, exist_ok=True)
    head = {"task": split["task"], "seed": split["seed"]}
    (out / TRAIN).write_text(json.dumps({**head, "ids": picked}, indent=1))
    (out / TEST).write_text(json.dumps({**head, "ids": list(split["test"])}, indent=1))
    manifest = {**split.get("manifest", {}), "train_items": {"n": len(picked), "from": str(split_dir),
                                                              "per_leaf": {k: len(v) for k, v in by_leaf.items()}}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return out / TRAIN


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe", type=Path)
    ap.add_argument("--work", type=Path, required=True, help="directory for the split, judges, runs and results")
    ap.add_argument("--validate", action="store_true", help="evaluate on a validation split carved from train")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value")
    args = ap.parse_args(argv)
    recipe = load_recipe(args.recipe, args.set)
    if recipe.get("extract") and (recipe.get("tune") or {}).get("lora", {}) is not False:
        raise SystemExit("extract: needs a full-parameter tune (--set lora=false); a LoRA judge is an adapter already")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "recipe.log"
    jb = [sys.executable, "-m", "judgebench.cli"]
    task, seed, mode = recipe["task"], str(recipe.get("seed", 0)), recipe.get("mode", "choice")
    t0 = time.time()
    timings: dict[str, float] = {}
    split_dir = work / "split"
    if not (split_dir / "test.json").exists():
        timings["split"] = sh([*jb, "split", "--task", task, "--out", str(split_dir), "--seed", seed,
                               "--test-size", str(recipe["split"]["test_size"])], log)
    train_ids, held_out = split_dir / "train.json", split_dir / "test.json"
    limit = recipe.get("limit_per_task")
    if args.validate:
        val_dir = work / "validation"
        if not (val_dir / "test.json").exists():
            print(f"# carving a validation split from {train_ids}", flush=True)
            carve_validation(split_dir, val_dir, recipe)
        train_ids, held_out = val_dir / "train.json", val_dir / "test.json"
        limit = recipe["validation"].get("limit_per_task", limit)
    n_items = (recipe["validation"] if args.validate else recipe).get("train_items")
    if n_items:  # a proportional sample of the train side instead of the first N items of each leaf
        train_ids = sample_train(train_ids.parent, train_ids.parent.parent / f"{train_ids.parent.name}-sample-{n_items}",
                                 recipe, int(n_items))
        limit = None
    tune_cfg = recipe.get("tune") or {}
    digest = hashlib.sha256(json.dumps([tune_cfg, limit, recipe.get("base"), recipe.get("base_options")]
                                       + ([n_items] if n_items else []), sort_keys=True).encode()).hexdigest()[:10]
    out = work / "judges" / (("val-" if args.validate else "") + digest)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tune.yaml").write_text(yaml.safe_dump(tune_cfg, sort_keys=False))
    cmd = [*jb, "tune", "--base", recipe["base"], "--task", task, "--ids-file", str(train_ids), "--out", str(out),
           "--config", str(out / "tune.yaml"), "--seed", seed, "--mode", mode, "--eval", task,
           "--eval-ids-file", str(held_out), "--runs-root", str(work / "runs"), "--quiet"]
    base_opts = list((recipe.get("base_options") or {}).items())
    for k, v in base_opts:
        cmd += ["--base-opt", f"{k}={v}"]
    if limit:
        cmd += ["--limit", str(limit)]
    for b in (recipe.get("eval") or {}).get("baselines", []):
        cmd += ["--eval-baseline", b]
    done = out / "provenance.json"
    if (out / "eval.json").is_file() and done.is_file() and json.loads(done.read_text()).get("status") == "complete":
        print(f"# {out} is tuned and evaluated already (same settings): skipping to the next step", flush=True)
    else:
        timings["tune_and_eval"] = sh(cmd, log)
    ev = json.loads((out / "eval.json").read_text())
    prov = json.loads((out / "provenance.json").read_text())
    result = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "validate": args.validate, "judge": str(out),
              "limit_per_task": limit, "train_items": n_items, "tune": tune_cfg, "sets": args.set, "wall_s": round(time.time() - t0, 1),
              "timings_s": {k: round(v, 1) for k, v in timings.items()},
              "train_runtime_s": prov.get("train_metrics", {}).get("train_runtime"),
              "pairs_trained": prov.get("pairs", {}).get("pairs_trained"),
              "summary": ev["summary"]}
    ext = recipe.get("extract")
    if ext:  # the full-parameter judge as a small LoRA adapter, evaluated on the same held-out items
        adapter = out / "adapter"
        rank, rows = str(ext.get("rank", 8)), str(ext.get("token_rows", 256))
        timings["extract"] = sh([sys.executable, str(HERE / "extract_lora.py"), str(out), str(adapter),
                                 "--rank", rank, "--token-rows", rows], log)
        run_dir = work / "runs" / f"{task}__extracted__{out.name}"
        ev_cmd = [*jb, "run", "--backend", f"lora:{adapter}", "--task", task, "--ids-file", str(held_out),
                  "--mode", mode, "--seed", seed, "--run-dir", str(run_dir), "--quiet"]
        for k, v in base_opts:
            ev_cmd += ["-o", f"{k}={v}"]
        timings["extract_eval"] = sh(ev_cmd, log)
        from judgebench.commands.tune import paired_comparison, render_summary
        from judgebench.console import print_table

        dirs = [r["run_dir"] for r in ev["runs"]]
        comparison = paired_comparison([dirs[0], str(run_dir), *dirs[2:]], task=task, seed=int(seed))
        (adapter / "eval.json").write_text(json.dumps(comparison, indent=2, default=str))
        print_table(render_summary(comparison["summary"]))
        print(f"# the extracted adapter {adapter} on {held_out}; full comparison: {adapter / 'eval.json'}")
        result["extracted"] = {"adapter": str(adapter), "rank": int(rank), "token_rows": int(rows),
                               "summary": comparison["summary"]}
        result["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
        result["wall_s"] = round(time.time() - t0, 1)
    with (work / "results.jsonl").open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(f"# recipe done in {result['wall_s']:.0f} s; results appended to {work / 'results.jsonl'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
