"""Every output format of a comparison, in one registry: terminal, markdown, HTML, CSV, JSON and LaTeX.

Each format renders the report sections (:mod:`.sections`) in order: their tables, their tidy rows (CSV) or, in HTML,
their figures too.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .sections import TIDY_COLUMNS, all_sections, header_lines, tables
from .tables import Table, intersection_line


@dataclass(frozen=True)
class Format:
    name: str
    render: Callable[..., str]
    suffixes: tuple[str, ...] = ()
    needs_file: bool = False  # a page, not something to print on a terminal
    help: str = ""


FORMATS: dict[str, Format] = {}
ALIASES = {"table": "term"}


def register_format(name: str, *suffixes: str, needs_file: bool = False, help: str = "") -> Callable:
    def deco(fn: Callable[..., str]) -> Callable[..., str]:
        FORMATS[name] = Format(name, fn, suffixes, needs_file, help)
        return fn
    return deco


def get(name: str) -> Format:
    key = ALIASES.get(name, name)
    if key not in FORMATS:
        raise ConfigError(f"--format {name}: expected one of {'|'.join(FORMATS)}")
    return FORMATS[key]


def names(files_only: bool = True) -> list[str]:
    """Format names for --format (with the ``table`` alias of ``term``)."""
    return [n for n, f in FORMATS.items() if files_only or not f.needs_file] + list(ALIASES)


def from_suffix(suffix: str) -> str | None:
    return next((f.name for f in FORMATS.values() if suffix.lower() in f.suffixes), None)


def render(c: dict[str, Any], fmt: str, **kw: Any) -> str:
    return get(fmt).render(c, **kw)


def render_comparison(c: dict[str, Any], fmt: str, color: bool = False) -> str:
    """The comparison in any format (``table`` is the terminal format, coloured on request)."""
    f = get(fmt)
    return f.render(c, color=color) if f.name == "term" else f.render(c)


def rich_renderables(c: dict[str, Any]) -> list[Any]:
    from rich.table import Table as RichTable
    from rich.text import Text

    out: list[Any] = [Text("\n".join(header_lines(c)), style="bold red" if c["intersected"] else "")]
    for t in tables(c):
        rt = RichTable(title=t.title, caption=t.note or None, caption_justify="left")
        for i, h in enumerate(t.headers):
            rt.add_column(h, justify="left" if i == 0 or h in ("task", "category", "backend") else "right",
                          overflow="fold")
        for row in t.rows:
            rt.add_row(*row)
        out.append(rt)
    return out


@register_format("term", ".txt", help="tables for the terminal")
def to_term(c: dict[str, Any], color: bool = False, width: int = 200) -> str:
    from rich.console import Console

    buf = io.StringIO()
    con = Console(file=buf, width=width, color_system="auto" if color else None, force_terminal=color)
    for r in rich_renderables(c):
        con.print(r)
    return buf.getvalue()


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


@register_format("markdown", ".md", ".markdown", help="GitHub markdown tables")
def to_markdown(c: dict[str, Any]) -> str:
    out = ["# judgebench comparison", ""]
    if c["intersected"]:
        out += [f"> **{intersection_line(c)}**", ""]
    out += [f"- {line}" for line in header_lines(c) if not line.startswith("INTERSECTION")] + [""]
    for t in tables(c):
        out += [f"## {t.title}", "", _md_row(t.headers), "|" + "---|" * len(t.headers)]
        out += [_md_row(row) for row in t.rows]
        out += ["", f"_{t.note}_", ""] if t.note else [""]
    return "\n".join(out)


def tidy_rows(c: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for s in all_sections() for row in s.rows(c)]


@register_format("csv", ".csv", help="tidy: one metric per row")
def to_csv(c: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=TIDY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in tidy_rows(c):
        w.writerow(r)
    return buf.getvalue()


@register_format("json", ".json", help="everything the other formats are made from")
def to_json(c: dict[str, Any]) -> str:
    return json.dumps(c, indent=2, allow_nan=False)


@register_format("html", ".html", ".htm", needs_file=True, help="one self-contained page with figures")
def to_html(c: dict[str, Any]) -> str:
    from .html import to_html as page
    return page(c)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "Δ": r"$\Delta$", "†": r"$^\dagger$",
        "—": "--", "–": "--", "≥": r"$\geq$", "…": r"\ldots{}", "·": r"$\cdot$"}


def tex(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def latex_table(t: Table) -> str:
    cols = "l" + "r" * (len(t.headers) - 1)
    lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{tex(t.title)}}}",
             rf"\begin{{tabular}}{{{cols}}}", r"\toprule", " & ".join(tex(h) for h in t.headers) + r" \\", r"\midrule"]
    for row in t.rows:
        first = row[0]
        indent = (len(first) - len(first.lstrip(" "))) // 2
        cells = [(r"\quad " * indent) + tex(first.strip()), *(tex(x) for x in row[1:])]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if t.note:
        lines.append(rf"\par\smallskip\parbox{{\linewidth}}{{\footnotesize {tex(t.note)}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines)


@register_format("latex", ".tex", help="booktabs tables for a paper")
def to_latex(c: dict[str, Any]) -> str:
    head = ["% judgebench comparison; needs \\usepackage{booktabs}"]
    head += [f"% {line}" for line in header_lines(c)]
    return "\n".join(head) + "\n\n" + "\n\n".join(latex_table(t) for t in tables(c)) + "\n"
