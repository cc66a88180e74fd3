"""`judgebench split`: write a seeded, category-stratified, leakage-safe train/test split of a task."""
from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("split", help="write a leakage-safe train/test split of a task (train.json, test.json)")
    p.add_argument("--task", "-t", required=True, help="task or task group to split")
    p.add_argument("--out", required=True, help="split directory to write")
    p.add_argument("--test-size", type=float, default=0.16,
                   help="fraction of each category held out for testing (default 0.16: ~300 of RewardBench 2's 1,865)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    p.add_argument("--split", help="data split to read (default: the task's)")
    p.add_argument("--include-path", action="append", default=[], help="directory of your own task YAML files")
    p.add_argument("--skip-invalid", action="store_true", help="leave out invalid rows instead of failing")
    p.add_argument("--force", action="store_true", help="overwrite a different split already in --out")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def task_examples(task: str, split: str | None, include_paths: list[str], skip_invalid: bool) -> tuple[list[Any], list[str]]:
    """All examples of a task or of every leaf of a group (ids must be unique across the leaves)."""
    from ..resolve import resolve_tasks

    examples, seen, leaves = [], {}, []
    for t in resolve_tasks(task, split=split, include_paths=include_paths, skip_invalid=skip_invalid):
        leaves.append(t.name)
        for ex in t.examples:
            if ex.id in seen and seen[ex.id] != t.name:
                raise ConfigError(f"cannot split '{task}': example id '{ex.id}' occurs in both '{seen[ex.id]}' and "
                                  f"'{t.name}'")
            seen[ex.id] = t.name
            examples.append(ex)
    return examples, leaves


def run(args: argparse.Namespace) -> int:
    from ..splits import write_split

    examples, leaves = task_examples(args.task, args.split, args.include_path, args.skip_invalid)
    if not examples:
        raise ConfigError(f"task '{args.task}' has no examples to split")
    manifest = write_split(args.out, args.task, examples, args.test_size, args.seed, force=args.force,
                           leaf_tasks=leaves, data_split=args.split)
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"split of {args.task} (seed {args.seed}, test size {args.test_size})")
    for col in ("category", "train", "test", "target test"):
        t.add_column(col, justify="left" if col == "category" else "right")
    for cat, d in manifest["per_category"].items():
        t.add_row(cat, str(d["train"]), str(d["test"]), str(d["target_test"]))
    t.add_row("all", str(manifest["n_train"]), str(manifest["n_test"]), "")
    Console(width=120).print(t)
    print(f"written: {args.out}/train.json, {args.out}/test.json, {args.out}/manifest.json  "
          f"({manifest['n_groups']} groups kept whole; evaluate with --ids-file {args.out}/test.json)")
    return 0
