"""`judgebench compare RUN…`: judges side by side on shared items — scores with CIs, paired tests, bias, cost."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError

TEXT_FORMATS = ("table", "term", "markdown", "csv", "json", "latex")


def add_compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (the first is the reference by default)")
    p.add_argument("--reference", "-r", metavar="RUN",
                   help="the run the others are tested against: one of RUN (path or name) or another run directory")
    p.add_argument("--intersect", action="store_true",
                   help="if the runs differ (task definition, split, items), compare only the items they share; "
                        "the output is labelled as an intersection")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--label", "-l", action="append", default=[], metavar="RUN=NAME",
                   help="show RUN (a run directory or its name) as NAME instead of its readable default label "
                        "(backend, mode, tuned judge; repeatable)")
    p.add_argument("--out", "-o", help="write to this file instead of standard output")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare judges on the same items: CIs, paired tests, bias, cost")
    add_compare_args(p)
    p.add_argument("--format", "-f", choices=TEXT_FORMATS, default="table", help="output format (default table)")
    p.set_defaults(func=run)


def load_runs(paths: Sequence[str], reference: str | None) -> tuple[list[Any], int]:
    """Load the run directories; return them with the index of the reference run."""
    from ..results import load_run

    runs = [load_run(p) for p in paths]
    if reference is None:
        return runs, 0
    ref = Path(reference)
    for i, (p, r) in enumerate(zip(paths, runs)):
        if (ref.exists() and ref.resolve() == Path(p).resolve()) or reference == r.name:
            return runs, i
    if not ref.exists():
        raise ConfigError(f"--reference {reference}: neither one of the compared runs nor a run directory")
    return [load_run(ref), *runs], 0


def comparison_from_args(args: argparse.Namespace) -> dict[str, Any]:
    from ..report.compare import add_calibrated, build_comparison
    from ..report.labels import parse_label_args

    labels = parse_label_args(getattr(args, "label", []) or [])
    runs, ref = load_runs(args.runs, args.reference)
    c = build_comparison(runs, reference=ref, intersect=args.intersect, seed=args.seed, labels=labels)
    return add_calibrated(c, runs, reference=ref, intersect=args.intersect, seed=args.seed, labels=labels)


def render(c: dict[str, Any], fmt: str, color: bool = False) -> str:
    """The comparison in any format of :mod:`judgebench.report.formats` (``table`` is the terminal format)."""
    from ..report.formats import render_comparison

    return render_comparison(c, fmt, color)


def emit(c: dict[str, Any], fmt: str, out: str | None) -> None:
    if out:
        Path(out).write_text(render(c, fmt), encoding="utf-8")
        label = " (INTERSECTION of the runs)" if c["intersected"] else ""
        print(f"wrote {fmt} comparison of {len(c['runs'])} run(s) on {c['n_items']} items to {out}{label}")
        return
    text = render(c, fmt, color=sys.stdout.isatty())
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def run(args: argparse.Namespace) -> int:
    c = comparison_from_args(args)
    emit(c, args.format, args.out)
    if c["intersected"] and not args.out:
        print("NOTE: the runs differ; this is an INTERSECTION of their items", file=sys.stderr)
    return 0
