"""`judgebench compare RUN…`: judges side by side on shared items — scores with CIs, paired tests, bias, cost."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError

TEXT_FORMATS = ("table", "markdown", "csv", "json")


def add_compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (the first is the reference by default)")
    p.add_argument("--reference", "-r", metavar="RUN",
                   help="the run the others are tested against: one of RUN (path or name) or another run directory")
    p.add_argument("--intersect", action="store_true",
                   help="if the runs differ (task definition, split, items), compare only the items they share; "
                        "the output is labelled as an intersection")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
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
    from ..report.compare import build_comparison

    runs, ref = load_runs(args.runs, args.reference)
    return build_comparison(runs, reference=ref, intersect=args.intersect, seed=args.seed)


def render(c: dict[str, Any], fmt: str) -> str | None:
    """The comparison in a text format (None for "table", which is printed with rich)."""
    from ..report import tables

    if fmt == "markdown":
        return tables.to_markdown(c)
    if fmt == "csv":
        return tables.to_csv(c)
    if fmt == "json":
        return tables.to_json(c)
    if fmt == "html":
        from ..report.html import to_html
        return to_html(c)
    if fmt == "table":
        return None
    raise ConfigError(f"unknown format {fmt!r}")


def emit(c: dict[str, Any], fmt: str, out: str | None) -> None:
    from rich.console import Console

    from ..report.tables import to_rich

    text = render(c, fmt)
    if text is None:
        if out:
            with open(out, "w", encoding="utf-8") as f:
                con = Console(file=f, width=200, color_system=None)
                for r in to_rich(c):
                    con.print(r)
        else:
            con = Console(file=sys.stdout, width=max(160, Console().width))
            for r in to_rich(c):
                con.print(r)
    elif out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if out:
        label = " (INTERSECTION of the runs)" if c["intersected"] else ""
        print(f"wrote {fmt} comparison of {len(c['runs'])} run(s) on {c['n_items']} items to {out}{label}")


def run(args: argparse.Namespace) -> int:
    c = comparison_from_args(args)
    emit(c, args.format, args.out)
    if c["intersected"] and not args.out:
        print("NOTE: the runs differ; this is an INTERSECTION of their items", file=sys.stderr)
    return 0
