"""Write a task as an lm-evaluation-harness task (YAML + JSONL).

`judgebench export-lm-eval`, a command contributed by this plugin (entry point ``export-lm-eval`` in the
``judgebench.commands`` group); use the output with lm-eval's --include_path.  Imports only the public API.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-lm-eval", help="write a task as an lm-evaluation-harness task (YAML + JSONL)")
    p.add_argument("--task", "-t", required=True, help="task or task group")
    p.add_argument("--out", required=True, help="directory to write (pass it to lm-eval's --include_path)")
    p.add_argument("--split", help="data split (default: the task's)")
    p.add_argument("--ids-file", help="only these example ids (e.g. a split's test.json)")
    p.add_argument("--seed", type=int, default=0, help="seed for placements and orders (default 0)")
    p.add_argument("--limit", type=int, help="only the first N examples of each task")
    p.add_argument("--include-path", action="append", default=[], help="directory of your own task YAML files")
    p.add_argument("--prefix", default="judgebench", help="lm-eval task name prefix (default judgebench)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from judgebench.plugin import read_ids

    from .export import export_task

    ids = read_ids(args.ids_file) if args.ids_file else None
    m = export_task(args.task, Path(args.out), split=args.split, seed=args.seed, limit=args.limit,
                    include_paths=args.include_path, ids=ids, prefix=args.prefix)
    for name, info in m["tasks"].items():
        left = ", ".join(f"{n} {why}" for why, n in info["left_out"].items()) or "none"
        print(f"{name}: {info['docs']} docs from {info['examples']} examples (left out: {left})")
    top = m.get("group") or next(iter(m["tasks"]))
    print(f"judgebench lm-eval --include_path {args.out} --tasks {top} --model judgebench --model_args "
          f"backend=hf:smollm2  (or lm_eval … --model hf --model_args pretrained=…; the folder can be moved)")
    print(json.dumps({"manifest": str(Path(args.out) / "manifest.json")}))
    return 0
