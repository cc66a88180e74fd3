"""Calibration of judges that give a confidence: ECE and a reliability diagram with the count of every bin."""
from __future__ import annotations

from typing import Any

from ...console import fmt_pct
from .. import svg
from ..tables import Table
from . import Section, label, section, tidy


@section
class Calibration(Section):
    key = "calibration"
    title = "Calibration"
    order = 40

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for b in c["bias"]:
            cal = b["calibration"]
            if not cal:
                continue
            out.append(tidy("calibration", c, b, "ece", cal["ece"], n=cal["n"]))
            for p in cal["curve"]:
                out.append(tidy("calibration", c, b, f"accuracy_bin_{p['lo']:.1f}_{p['hi']:.1f}", p["accuracy"],
                                n=p["n"]))
        return out

    def tables(self, c: dict[str, Any]) -> list[Table]:
        rows = [[label(c, b["run"]), b["task"], str(b["calibration"]["n"]), f"{b['calibration']['ece']:.3f}",
                 fmt_pct(b["calibration"]["mean_confidence"]), fmt_pct(b["calibration"]["accuracy"]),
                 " ".join(str(p["n"]) for p in b["calibration"]["curve"])]
                for b in c["bias"] if b["calibration"]]
        if not rows:
            return []
        return [Table("Calibration", ["judge", "task", "n", "ECE", "mean confidence %", "accuracy %",
                                      "n per non-empty bin"], rows,
                      "ECE over 10 equal-width confidence bins; correct = full credit.")]

    def figures(self, c: dict[str, Any]) -> list[str]:
        out = []
        for t in c["tasks"]:
            order = [r["name"] for r in c["runs"]]
            series = [{"name": label(c, b["run"]), "curve": b["calibration"]["curve"], "series": order.index(b["run"])}
                      for b in c["bias"] if b["task"] == t and b["calibration"]]
            if series:
                out.append(svg.reliability(f"{t}: reliability", series))
        return out
