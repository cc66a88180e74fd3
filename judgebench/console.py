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
    calibrated = any(r.get("calibrated") is not None for r in rows)
    cols = [("task", "left"), ("category", "left"), ("n", "right"), ("score %", "right"), ("95% CI", "right"),
            ("parse fail %", "right"), ("errors", "right"), ("consistent %", "right")]
    if calibrated:  # balanced position calibration, beside the task's own rule (never instead of it)
        cols.append(("calibrated % [95% CI]", "right"))
    for col, just in cols:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        ci = "—" if r["n"] == 0 else f"[{fmt_pct(r['ci_low'])}, {fmt_pct(r['ci_high'])}]"
        cells = [r["task"], r["category"] + (" (mean of categories)" if r.get("aggregate") == "category_mean" else ""),
                 str(r["n"]), fmt_pct(r["score"]), ci, fmt_pct(r["parse_error_rate"]), str(r["errors"] + r["missing"]),
                 fmt_pct(r["consistency"])]
        if calibrated:
            cells.append("—" if r.get("calibrated") is None else
                         f"{fmt_pct(r['calibrated'])} [{fmt_pct(r['calibrated_low'])}, {fmt_pct(r['calibrated_high'])}]")
        t.add_row(*cells)
    if calibrated:
        t.caption = ("score: the task's rule (pairwise: both orders must agree); calibrated: both orders' verdict "
                     "log-prob margins summed (balanced position calibration, Wang et al. 2023)")
        t.caption_justify = "left"
    return t


def print_table(table: Any) -> None:
    from rich.console import Console

    Console(file=sys.stdout, width=max(120, Console().width)).print(table)


class RateMeter:
    """Judgments per second over the most recent ``window`` judgments, and the time left at that rate.  The window
    slides, so a burst of cached or already-stored judgments at the start stops counting once fresh ones arrive."""

    def __init__(self, window: int = 50, min_span_s: float = 0.5) -> None:
        from collections import deque

        self.samples: Any = deque()
        self.window, self.min_span_s = window, min_span_s

    def add(self, t: float, done: int) -> None:
        self.samples.append((t, done))
        while len(self.samples) > 2 and self.samples[-1][1] - self.samples[1][1] >= self.window:
            self.samples.popleft()

    def rate(self) -> float | None:
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        if t1 - t0 < self.min_span_s or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def eta_text(self, done: int, total: int) -> str:
        r = self.rate()
        if done >= total:
            return ""
        if r is None:
            return "eta —"
        left = int(round((total - done) / r))
        h, rem = divmod(left, 3600)
        return f"eta {h}:{rem // 60:02d}:{rem % 60:02d} at {r:.3g}/s" if h else \
            f"eta {rem // 60}:{rem % 60:02d} at {r:.3g}/s"


@contextlib.contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """One rich progress bar on stderr (only on a terminal), advanced per judgment; yields update(done, total).
    The time left comes from the observed rate of the latest judgments (:class:`RateMeter`)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    meter = RateMeter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[eta]}"), transient=True) as prog:
        tid = prog.add_task(description, total=None, eta="")

        def update(done: int, total: int) -> None:
            meter.add(time.monotonic(), done)
            prog.update(tid, completed=done, total=total, eta=meter.eta_text(done, total))
        yield update


def log_to_file(path: str) -> None:
    """``--log-file``: log records (INFO and up) and Python warnings, with times, appended to ``path``."""
    import logging
    from pathlib import Path

    from .errors import ConfigError

    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(p, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--log-file {path}: cannot write there ({e.strerror or e})") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # warnings go to the file, not the terminal
