"""`judgebench report RUN…`: the summary matrix, then per-task detail, as terminal tables, markdown, HTML, CSV,
JSON or LaTeX."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .compare import add_compare_args, comparison_from_args, emit

FORMATS = ("term", "table", "markdown", "html", "csv", "json", "latex")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a report: judge × task summary, then per-task detail (term, markdown, "
                                      "html, csv, json, latex)")
    add_compare_args(p)
    p.add_argument("--format", "-f", choices=FORMATS,
                   help="output format (default: from the --out suffix, else term)")
    p.set_defaults(func=run)


def pick_format(fmt: str | None, out: str | None) -> str:
    from ..report import formats

    if fmt:
        return fmt
    if out:
        suffix = Path(out).suffix.lower()
        name = formats.from_suffix(suffix)
        if name is None:
            raise ConfigError(f"--out {out}: cannot tell the format from '{suffix}'; pass --format "
                              f"{'|'.join(FORMATS)}")
        return name
    return "term"


def run(args: argparse.Namespace) -> int:
    from ..report import formats

    fmt = pick_format(args.format, args.out)
    if formats.get(fmt).needs_file and not args.out:
        raise ConfigError(f"--format {fmt} needs --out FILE")
    emit(comparison_from_args(args), fmt, args.out)
    return 0
