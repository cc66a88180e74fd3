"""A self-contained HTML report (one file, inline CSS and SVG, no scripts or external requests)."""
from __future__ import annotations

import time
from html import escape
from typing import Any

from . import svg
from .tables import Table, header_lines, tables

CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 7px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:12px;max-width:1000px}.banner{background:#fde2e1;border:1px solid #d55;padding:8px 12px;
font-weight:600}.plots{display:flex;flex-wrap:wrap;gap:14px}.chart{border:1px solid #eee}ul.meta{font-size:13px}
"""
TEXT_COLS = {"run", "task", "category", "backend"}


def html_table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = "".join("<tr>" + "".join(f"<td{'' if h in TEXT_COLS else ' class=num'}>{escape(v)}</td>"
                                     for h, v in zip(t.headers, row)) + "</tr>" for row in t.rows)
    note = f"<p class='note'>{escape(t.note)}</p>" if t.note else ""
    return f"<h2>{escape(t.title)}</h2><table class='results'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _rows(c: dict[str, Any], task: str) -> list[dict[str, Any]]:
    return [r for r in c["rows"] if r["task"] == task]


def score_plot(c: dict[str, Any], task: str) -> str:
    rows = _rows(c, task)
    cats = list(dict.fromkeys(r["category"] for r in rows))
    series = []
    for name in [r["name"] for r in c["runs"]]:
        by = {r["category"]: r for r in rows if r["run"] == name}
        series.append({"name": name, "values": [by[k]["score"] if k in by else None for k in cats],
                       "lows": [by[k]["ci_low"] if k in by else None for k in cats],
                       "highs": [by[k]["ci_high"] if k in by else None for k in cats]})
    return svg.grouped_bars(f"{task}: score by category (95% CI)", cats, series, "score %")


def diff_plot(c: dict[str, Any], task: str) -> str | None:
    names = [r["name"] for r in c["runs"]]
    rows = [{"label": f"{r['run']} · {r['category']}", "value": r["diff"], "low": r["diff_low"], "high": r["diff_high"],
             "series": names.index(r["run"])} for r in _rows(c, task) if r["paired_n"] is not None]
    if not rows:
        return None
    return svg.forest(f"{task}: difference vs {c['reference']} (paired 95% CI)", rows, "points")


def position_plot(c: dict[str, Any], task: str) -> str | None:
    bias = [b for b in c["bias"] if b["task"] == task and b["position"]["by_k"]]
    if not bias:
        return None
    ks = [k["n_positions"] for b in bias for k in b["position"]["by_k"]]
    k = max(set(ks), key=lambda v: (ks.count(v), -v))
    groups = [f"picked #{p + 1}" for p in range(k)] + [f"acc | #{p + 1} correct" for p in range(k)]
    series = []
    for b in bias:
        byk = next((x for x in b["position"]["by_k"] if x["n_positions"] == k), None)
        rates = ([p["pick_rate"] for p in byk["positions"]] + [p["accuracy_when_correct_here"] for p in byk["positions"]]
                 if byk else [{}] * (2 * k))
        series.append({"name": b["run"], "values": [r.get("rate") for r in rates],
                       "lows": [r.get("ci_low") for r in rates], "highs": [r.get("ci_high") for r in rates]})
    return svg.grouped_bars(f"{task}: position bias ({k} positions)", groups, series, "%", chance=1 / k)


def length_plot(c: dict[str, Any], task: str) -> str:
    bias = [b for b in c["bias"] if b["task"] == task]
    keys = [("prefers longer", ("length", "prefer_longer")), ("acc | right is shorter", ("length", "correct_shorter")),
            ("acc | right is longer", ("length", "correct_longer")), ("swap-consistent", ("position", "swap_consistency"))]
    series = []
    for b in bias:
        rates = [b[sec][k] for _, (sec, k) in keys]
        series.append({"name": b["run"], "values": [r["rate"] for r in rates], "lows": [r["ci_low"] for r in rates],
                       "highs": [r["ci_high"] for r in rates]})
    return svg.grouped_bars(f"{task}: length bias and consistency", [k for k, _ in keys], series, "%")


def calibration_plot(c: dict[str, Any], task: str) -> str | None:
    series = [{"name": b["run"], "xs": [p["confidence"] for p in b["calibration"]["curve"]],
               "ys": [p["accuracy"] for p in b["calibration"]["curve"]], "ns": [p["n"] for p in b["calibration"]["curve"]]}
              for b in c["bias"] if b["task"] == task and b["calibration"]]
    if not series:
        return None
    return svg.lines(f"{task}: reliability (ECE in the table)", series, "mean confidence", "accuracy")


def cost_plot(c: dict[str, Any], task: str) -> str:
    overall = {r["run"]: r for r in _rows(c, task) if r["category"] == "all"}
    paid = any((r["usd_per_1k"] or 0) > 0 for r in c["cost"])
    key, label = ("usd_per_1k", "$ per 1,000 judgments") if paid else ("judgments_per_s", "judgments per second")
    points = [{"x": r[key], "y": overall[r["run"]]["score"], "low": overall[r["run"]]["ci_low"],
               "high": overall[r["run"]]["ci_high"], "label": r["run"]} for r in c["cost"] if r["run"] in overall]
    what = "cost" if paid else "speed (no run had a cost)"
    return svg.scatter(f"{task}: score vs {what}", points, label, "score %")


def plots(c: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for t in c["tasks"]:
        for p in (score_plot(c, t), diff_plot(c, t), position_plot(c, t), length_plot(c, t), calibration_plot(c, t),
                  cost_plot(c, t)):
            if p is not None:
                out.append(p)
    return out


def to_html(c: dict[str, Any], title: str = "judgebench comparison") -> str:
    banner = ("<p class='banner'>INTERSECTION — the runs differ; only the items they share are compared. "
              + escape("; ".join(c["notes"])) + "</p>") if c["intersected"] else ""
    meta = "".join(f"<li>{escape(line)}</li>" for line in header_lines(c))
    charts = "".join(plots(c))
    body = "".join(html_table(t) for t in tables(c))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width'><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1>{banner}<ul class='meta'>{meta}</ul>"
            f"<h2>Plots</h2><div class='plots'>{charts}</div>{body}"
            f"<p class='note'>Generated by judgebench on {time.strftime('%Y-%m-%d %H:%M')}. Every score carries n and "
            f"a 95% bootstrap CI; differences are paired on shared items (bootstrap CI; exact McNemar test, or † a "
            f"paired permutation test for official and group aggregates; p-values are not adjusted for multiple "
            f"comparisons).</p></body></html>")
