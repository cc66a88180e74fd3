"""Terminal output shared by commands: the results table (n and 95% CI on every score) and progress bars."""
from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator, Sequence


def fmt_pct(x: float | None) -> str:
    return "—" if x is None or x != x else f"{100 * x:.1f}"


def results_table(rows: Sequence[dict[str, Any]], title: str = "") -> Any:
    from rich.table import Table

    t = Table(title=title or None, show_lines=False)
    for col, just in (("task", "left"), ("category", "left"), ("n", "right"), ("score %", "right"),
                      ("95% CI", "right"), ("parse fail %", "right"), ("errors", "right"), ("consistent %", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        ci = "—" if r["n"] == 0 else f"[{fmt_pct(r['ci_low'])}, {fmt_pct(r['ci_high'])}]"
        t.add_row(r["task"], r["category"] + (" (mean of categories)" if r.get("aggregate") == "category_mean" else ""),
                  str(r["n"]), fmt_pct(r["score"]), ci, fmt_pct(r["parse_error_rate"]), str(r["errors"] + r["missing"]),
                  fmt_pct(r["consistency"]))
    return t


def print_table(table: Any) -> None:
    from rich.console import Console

    Console(file=sys.stdout, width=max(120, Console().width)).print(table)


@contextlib.contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr (only on a terminal); yields an update(done, total) callback."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True) as prog:
        tid = prog.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            prog.update(tid, completed=done, total=total)
        yield update
