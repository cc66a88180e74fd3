"""Position and length bias per judge and task: swap consistency, first-position picks, picks of the longer answer."""
from __future__ import annotations

from typing import Any

from ...console import fmt_pct
from .. import svg
from ..tables import Table, rate_cell
from . import Section, judges, label, section, tidy


def _k2(pos: dict[str, Any]) -> dict[str, Any] | None:
    return next((k for k in pos["by_k"] if k["n_positions"] == 2), pos["by_k"][0] if pos["by_k"] else None)


def _rate(c: dict[str, Any], section_key: str, b: dict[str, Any], metric: str, r: dict[str, Any]) -> dict[str, Any]:
    return tidy(section_key, c, b, metric, r["rate"], r["ci_low"], r["ci_high"], r["n"])


@section
class Bias(Section):
    key = "bias"
    title = "Position and length bias"
    order = 30

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for b in c["bias"]:
            pos, ln = b["position"], b["length"]
            out.append(_rate(c, "position", b, "swap_consistency", pos["swap_consistency"]))
            for k in pos["by_k"]:
                for p in k["positions"]:
                    tag = f"k{k['n_positions']}_pos{p['position'] + 1}"
                    out.append(_rate(c, "position", b, f"pick_rate_{tag}", p["pick_rate"]))
                    out.append(_rate(c, "position", b, f"accuracy_when_correct_{tag}", p["accuracy_when_correct_here"]))
            for k in ("prefer_longer", "correct_shorter", "correct_longer"):
                out.append(_rate(c, "length", b, k if k == "prefer_longer" else f"accuracy_{k}", ln[k]))
        return out

    def tables(self, c: dict[str, Any]) -> list[Table]:
        rows = []
        for b in c["bias"]:
            pos, ln = b["position"], b["length"]
            k2 = _k2(pos)
            first = k2["positions"][0] if k2 else None
            acc_pos = " / ".join(fmt_pct(p["accuracy_when_correct_here"]["rate"]) for p in k2["positions"]) if k2 else "—"
            rows.append([label(c, b["run"]), b["task"], rate_cell(pos["swap_consistency"]),
                         rate_cell(first["pick_rate"]) if first else "—", acc_pos, rate_cell(ln["prefer_longer"]),
                         rate_cell(ln["correct_shorter"]), rate_cell(ln["correct_longer"])])
        note = ("first-position picks: share of parsed judgments picking position 1 (of the most common number of "
                "positions); acc by position: accuracy when the correct answer sat at position 1 / 2 / …; prefers "
                "longer: share of picks of the longest shown answer (chance = 1/k).")
        return [Table("Position and length bias", ["judge", "task", "swap-consistent %", "first-position picks %",
                                                   "acc by correct position %", "prefers longer %",
                                                   "acc, correct shorter %", "acc, correct longer %"], rows, note)]

    def figures(self, c: dict[str, Any]) -> list[str]:
        tasks = c["tasks"]
        by = {(b["task"], b["run"]): b for b in c["bias"]}
        pos_series, len_series, ks = [], [], []
        for name, lab in judges(c):
            firsts, longer = [], []
            for t in tasks:
                b = by.get((t, name))
                k2 = _k2(b["position"]) if b else None
                if k2:
                    ks.append(k2["n_positions"])
                firsts.append(k2["positions"][0]["pick_rate"] if k2 else {})
                longer.append(b["length"]["prefer_longer"] if b else {})
            for out, rates in ((pos_series, firsts), (len_series, longer)):
                out.append({"name": lab, "values": [r.get("rate") for r in rates],
                            "lows": [r.get("ci_low") for r in rates], "highs": [r.get("ci_high") for r in rates]})
        figs = []
        if ks:
            k = max(set(ks), key=ks.count)
            figs.append(svg.grouped_bars("Picks of the first position (95% CI)", tasks, pos_series, "%",
                                         chance=1 / k))
        if any(v is not None for s in len_series for v in s["values"]):
            figs.append(svg.grouped_bars("Picks of the longer answer (95% CI)", tasks, len_series, "%"))
        return figs
