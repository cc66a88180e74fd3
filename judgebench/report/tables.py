"""Render a comparison as tables: terminal (rich), markdown, CSV (tidy, one metric per row) and JSON."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..console import fmt_pct


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


def pct_ci(rate: float | None, low: float | None, high: float | None) -> str:
    if rate is None:
        return "—"
    return f"{fmt_pct(rate)} [{fmt_pct(low)}, {fmt_pct(high)}]"


def rate_cell(r: dict[str, Any] | None) -> str:
    if not r or r.get("rate") is None:
        return "—"
    return f"{pct_ci(r['rate'], r['ci_low'], r['ci_high'])} n={r['n']}"


def pp(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def p_cell(p: float | None, test: str | None = None) -> str:
    """A p-value; a dagger marks the permutation test (official or group aggregates), plain is exact McNemar."""
    if p is None:
        return "—"
    return (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}") + ("†" if test == "permutation" else "")


def paired_note(c: dict[str, Any]) -> str:
    return (f"p: exact McNemar on items dichotomised at credit ≥ {c['correct_at']:g}; † on rows scored by an official "
            f"aggregate (a mean of categories or tasks, or the task's own formula): a paired permutation test of that "
            f"aggregate ({c.get('permutations', 2000)} random swaps of the two judges' results per item; the smallest "
            f"reportable p is 1/{c.get('permutations', 2000) + 1}). (wins/losses) = items only this run / only the "
            f"reference got fully right.")


def score_table(c: dict[str, Any]) -> Table:
    rows = []
    for r in c["rows"]:
        ref = r["paired_n"] is None
        rows.append([r["run"], r["task"], r["category"], str(r["n"]), pct_ci(r["score"], r["ci_low"], r["ci_high"]),
                     "reference" if ref else f"{pp(r['diff'])} [{pp(r['diff_low'])}, {pp(r['diff_high'])}]",
                     "" if ref else f"{p_cell(r['p_value'], r.get('test'))} ({r['wins']}/{r['losses']})",
                     fmt_pct(r["parse_error_rate"]), f"{r['errors']}/{r['excluded']}/{r['missing']}"])
    note = (f"score: mean credit (or the task's official aggregate; group rows: the mean of their tasks, or all items "
            f"pooled) in %, 95% bootstrap CI. Δ: run minus reference ({c['reference']}) in points on the items both "
            f"scored, paired bootstrap CI. " + paired_note(c))
    return Table("Scores and paired differences", ["run", "task", "category", "n", "score % [95% CI]",
                                                   "Δ vs ref (pp) [95% CI]", "paired p (w/l)", "parse fail %",
                                                   "err/excl/miss"], rows, note)


def bias_table(c: dict[str, Any]) -> Table:
    rows = []
    for b in c["bias"]:
        pos, ln = b["position"], b["length"]
        k2 = next((k for k in pos["by_k"] if k["n_positions"] == 2), pos["by_k"][0] if pos["by_k"] else None)
        first = k2["positions"][0] if k2 else None
        acc_pos = " / ".join(fmt_pct(p["accuracy_when_correct_here"]["rate"]) for p in k2["positions"]) if k2 else "—"
        rows.append([b["run"], b["task"], rate_cell(pos["swap_consistency"]),
                     rate_cell(first["pick_rate"]) if first else "—", acc_pos,
                     rate_cell(ln["prefer_longer"]), rate_cell(ln["correct_shorter"]), rate_cell(ln["correct_longer"])])
    note = ("first-position picks: share of parsed judgments picking position 1 (of the most common number of "
            "positions); acc by position: accuracy when the correct answer sat at position 1 / 2 / …; prefers longer: "
            "share of picks of the longest shown answer (chance = 1/k).")
    return Table("Position and length bias", ["run", "task", "swap-consistent %", "first-position picks %",
                                              "acc by correct position %", "prefers longer %", "acc, correct shorter %",
                                              "acc, correct longer %"], rows, note)


def calibration_table(c: dict[str, Any]) -> Table | None:
    rows = [[b["run"], b["task"], str(b["calibration"]["n"]), f"{b['calibration']['ece']:.3f}",
             fmt_pct(b["calibration"]["mean_confidence"]), fmt_pct(b["calibration"]["accuracy"])]
            for b in c["bias"] if b["calibration"]]
    if not rows:
        return None
    return Table("Calibration", ["run", "task", "n", "ECE", "mean confidence %", "accuracy %"], rows,
                 "ECE over 10 equal-width confidence bins; correct = full credit.")


def _num(x: Any, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def cost_table(c: dict[str, Any]) -> Table:
    rows = [[r["run"], r["backend"], str(r["n_judgments"]), _num(r["prompt_tokens"], ","), _num(r["completion_tokens"], ","),
             _num(r["cost_usd"], ".4f"), _num(r["usd_per_1k"], ".4f"), _num(r["judgments_per_s"], ".1f")]
            for r in c["cost"]]
    return Table("Cost and speed", ["run", "backend", "judgments", "prompt tokens", "completion tokens", "$ total",
                                    "$ / 1k judgments", "judgments / s"], rows,
                 "whole run (all its tasks); judgments/s over the time spent waiting on the backend.")


def tables(c: dict[str, Any]) -> list[Table]:
    return [t for t in (score_table(c), bias_table(c), calibration_table(c), cost_table(c)) if t is not None]


def header_lines(c: dict[str, Any]) -> list[str]:
    lines = [f"reference: {c['reference']}; {c['n_items']} items; tasks: {', '.join(c['tasks'])}"]
    lines += [f"run {r['name']}: {r['backend']} ({r['run_dir']})" + ("  CONTAMINATED" if r["contaminated"] else "")
              for r in c["runs"]]
    lines += c["notes"]
    return lines


def to_markdown(c: dict[str, Any]) -> str:
    out = ["# judgebench comparison", ""]
    if c["intersected"]:
        out += ["> **INTERSECTION** — the runs differ; only shared items are compared.", ""]
    out += [f"- {line}" for line in header_lines(c)] + [""]
    for t in tables(c):
        out += [f"## {t.title}", "", "| " + " | ".join(t.headers) + " |", "|" + "---|" * len(t.headers)]
        out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in t.rows]
        out += ["", f"_{t.note}_", ""] if t.note else [""]
    return "\n".join(out)


def to_rich(c: dict[str, Any]) -> list[Any]:
    from rich.table import Table as RichTable
    from rich.text import Text

    out: list[Any] = [Text("\n".join(header_lines(c)), style="bold red" if c["intersected"] else "")]
    for t in tables(c):
        rt = RichTable(title=t.title, caption=t.note or None, caption_justify="left")
        for h in t.headers:
            rt.add_column(h, justify="left" if h in ("run", "task", "category", "backend") else "right")
        for row in t.rows:
            rt.add_row(*row)
        out.append(rt)
    return out


def tidy_rows(c: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One metric per row: section, run, backend, task, category, metric, value, ci_low, ci_high, n, p_value."""
    def row(section: str, r: dict[str, Any], metric: str, value: Any, low: Any = None, high: Any = None, n: Any = None,
            p: Any = None, category: str = "all", task: str = "") -> dict[str, Any]:
        return {"section": section, "run": r["run"], "backend": r["backend"], "task": r.get("task", task),
                "category": category, "metric": metric, "value": value, "ci_low": low, "ci_high": high, "n": n, "p_value": p}
    for r in c["rows"]:
        cat = r["category"]
        yield row("score", r, "score", r["score"], r["ci_low"], r["ci_high"], r["n"], category=cat)
        if r["paired_n"] is not None:
            yield row("paired", r, "diff_vs_reference", r["diff"], r["diff_low"], r["diff_high"], r["paired_n"],
                      r["p_value"], category=cat)
            yield row("paired", r, "test", r.get("test"), category=cat)
            yield row("paired", r, "mcnemar_wins", r["wins"], category=cat)
            yield row("paired", r, "mcnemar_losses", r["losses"], category=cat)
        for k in ("parse_error_rate", "parse_errors", "errors", "excluded", "missing", "consistency"):
            yield row("score", r, k, r[k], n=r["items"], category=cat)
    for b in c["bias"]:
        pos, ln = b["position"], b["length"]
        yield _rate(row, "position", b, "swap_consistency", pos["swap_consistency"])
        for k in pos["by_k"]:
            for p in k["positions"]:
                tag = f"k{k['n_positions']}_pos{p['position'] + 1}"
                yield _rate(row, "position", b, f"pick_rate_{tag}", p["pick_rate"])
                yield _rate(row, "position", b, f"accuracy_when_correct_{tag}", p["accuracy_when_correct_here"])
        for k in ("prefer_longer", "correct_shorter", "correct_longer"):
            yield _rate(row, "length", b, k if k == "prefer_longer" else f"accuracy_{k}", ln[k])
        if b["calibration"]:
            yield row("calibration", b, "ece", b["calibration"]["ece"], n=b["calibration"]["n"])
    for r in c["cost"]:
        for k in ("n_judgments", "prompt_tokens", "completion_tokens", "cost_usd", "usd_per_1k", "judgments_per_s", "wall_s"):
            yield row("cost", r, k, r[k], task="*")


def _rate(row: Any, section: str, b: dict[str, Any], metric: str, r: dict[str, Any]) -> dict[str, Any]:
    return row(section, b, metric, r["rate"], r["ci_low"], r["ci_high"], r["n"])


def to_csv(c: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["section", "run", "backend", "task", "category", "metric", "value", "ci_low",
                                        "ci_high", "n", "p_value"], lineterminator="\n")
    w.writeheader()
    for r in tidy_rows(c):
        w.writerow(r)
    return buf.getvalue()


def to_json(c: dict[str, Any]) -> str:
    return json.dumps(c, indent=2, allow_nan=False)
