"""`judgebench demo`: the base SmolLM2, the shipped tuned judge and `baseline:longer` on held-out items, one table."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..types import BackendSpec

#: the shipped tuned judge and the options it was trained and is evaluated with (the base gets the same)
TUNED = "smollm2-judge"
JUDGE_OPTIONS = {"max_length": 1024}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="base SmolLM2 vs the shipped tuned judge vs baseline:longer on the sample "
                                    "task's test split (never trained on): one paired table")
    p.add_argument("--task", default="sample", help="held-out task to judge (default: sample, its test split)")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--runs-root", default="runs", help="where the three run directories go (default runs)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--verbose", "-v", action="store_true", help="keep library progress bars and warnings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import print_table, progress_bar
    from ..runner import RunConfig
    from .tune import evaluate_pair, render_summary

    base = BackendSpec("hf", "smollm2", dict(JUDGE_OPTIONS))
    tuned = BackendSpec("hf", TUNED, dict(JUDGE_OPTIONS))
    cfg = RunConfig(backend=base, task=args.task, limit=args.limit, mode="choice")
    progress = None if args.quiet else progress_bar
    comparison = evaluate_pair(base, tuned, cfg, runs_root=Path(args.runs_root), progress=progress,
                               others=[BackendSpec("baseline", "longer", {})])
    print_table(render_summary(comparison["summary"]))
    print("runs: " + ", ".join(r["run_dir"] for r in comparison["runs"]))
    return 0
