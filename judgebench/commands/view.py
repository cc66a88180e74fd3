"""`judgebench view RUN…`: one self-contained HTML page to browse the items of one or more runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="write an offline HTML page to browse items: prompt, candidates, label, each "
                                    "judge's verdict, raw output and confidence per order")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--out", "-o", default="view.html", help="the page to write (default view.html)")
    p.add_argument("--label", "-l", action="append", default=[], metavar="RUN=NAME",
                   help="show RUN (a run directory or its name) as NAME (repeatable)")
    p.add_argument("--title", default="judgebench items", help="the page title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report.items import build_items
    from ..report.labels import judge_labels, parse_label_args
    from ..report.viewer import to_view_html
    from ..results import load_run

    if Path(args.out).suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {args.out}: expected a .html file")
    overrides = parse_label_args(args.label)
    runs = [load_run(p) for p in args.runs]
    data = build_items(runs, judge_labels(runs, overrides))
    Path(args.out).write_text(to_view_html(data, args.title), encoding="utf-8")
    print(f"wrote {len(data['items'])} items of {len(runs)} run(s) to {args.out}")
    for note in data["notes"]:
        print(f"note: {note}")
    return 0
