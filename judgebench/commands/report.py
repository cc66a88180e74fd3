"""`judgebench report RUN…`: the comparison as a table, markdown, CSV, JSON or a self-contained HTML file."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .compare import TEXT_FORMATS, add_compare_args, comparison_from_args, emit

FORMATS = (*TEXT_FORMATS, "html")
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".csv": "csv", ".json": "json", ".html": "html",
            ".htm": "html", ".txt": "table"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a comparison report (table, markdown, CSV, JSON or offline HTML)")
    add_compare_args(p)
    p.add_argument("--format", "-f", choices=FORMATS,
                   help="output format (default: from the --out suffix, else table)")
    p.set_defaults(func=run)


def pick_format(fmt: str | None, out: str | None) -> str:
    if fmt:
        return fmt
    if out:
        suffix = Path(out).suffix.lower()
        if suffix not in SUFFIXES:
            raise ConfigError(f"--out {out}: cannot tell the format from '{suffix}'; pass --format "
                              f"{'|'.join(FORMATS)}")
        return SUFFIXES[suffix]
    return "table"


def run(args: argparse.Namespace) -> int:
    fmt = pick_format(args.format, args.out)
    if fmt == "html" and not args.out:
        raise ConfigError("--format html needs --out FILE.html")
    emit(comparison_from_args(args), fmt, args.out)
    return 0
