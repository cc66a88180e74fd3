"""Position-calibrated scores beside the strict ones: each item decided from both orders together (the two orders'
A−B log-prob margins summed in choice mode, their scores averaged in generate mode; Wang et al. 2023, balanced
position calibration), with the paired difference against the reference.  Present only when every compared run
judged every item in both orders; a task's own rule stays the score of the summary tables."""
from __future__ import annotations

from typing import Any

from ..tables import Table, p_cell, paired_note, pct_ci, pp
from . import Section, label, section, tidy


@section
class Calibrated(Section):
    key = "calibrated"
    title = "Position-calibrated score"
    order = 15

    def _rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in (c.get("calibrated") or {}).get("rows", []) if r["category"] == "all"]

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for r in self._rows(c):
            out.append(tidy("calibrated", c, r, "calibrated_score", r["score"], r["ci_low"], r["ci_high"], r["n"]))
            if r["paired_n"] is not None:
                out.append(tidy("calibrated", c, r, "calibrated_diff_vs_reference", r["diff"], r["diff_low"],
                                r["diff_high"], r["paired_n"], r["p_value"]))
        return out

    def tables(self, c: dict[str, Any]) -> list[Table]:
        rows = []
        for r in self._rows(c):
            ref = r["paired_n"] is None
            rows.append([label(c, r["run"]), r["task"], str(r["n"]), pct_ci(r["score"], r["ci_low"], r["ci_high"]),
                         "reference" if ref else f"{pp(r['diff'])} [{pp(r['diff_low'])}, {pp(r['diff_high'])}]",
                         "" if ref else f"{p_cell(r['p_value'], r.get('test'))} ({r['wins']}/{r['losses']})"])
        if not rows:
            return []
        note = ("calibrated: each item decided from both candidate orders together (the orders' A−B log-prob margins "
                "summed in choice mode, their scores averaged in generate mode; a tie only where the task allows "
                "ties) — reported beside the task's own rule, never instead of it. " + paired_note(c))
        headers = ["judge", "task", "n", "calibrated % [95% CI]", "Δ (pp) [95% CI]", "paired p (w/l)"]
        return [Table("Position-calibrated score (both orders decided together)", headers, rows, note)]
