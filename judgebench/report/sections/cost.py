"""Cost and speed per judge, and the headline score against $ per 1,000 judgments (or judgments per second)."""
from __future__ import annotations

from typing import Any

from .. import svg
from ..tables import Table
from . import Section, label, overall_rows, section, tidy
from .summary import headline_task

KEYS = ("n_judgments", "prompt_tokens", "completion_tokens", "cost_usd", "usd_per_1k", "judgments_per_s", "wall_s")


def _num(x: Any, fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


@section
class Cost(Section):
    key = "cost"
    title = "Cost and speed"
    order = 50

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        return [tidy("cost", c, r, k, r[k], task="*") for r in c["cost"] for k in KEYS]

    def tables(self, c: dict[str, Any]) -> list[Table]:
        rows = [[label(c, r["run"]), r["backend"], str(r["n_judgments"]), _num(r["prompt_tokens"], ","),
                 _num(r["completion_tokens"], ","), _num(r["cost_usd"], ".4f"), _num(r["usd_per_1k"], ".4f"),
                 _num(r["judgments_per_s"], ".1f")] for r in c["cost"]]
        return [Table("Cost and speed", ["judge", "backend", "judgments", "prompt tokens", "completion tokens",
                                         "$ total", "$ / 1k judgments", "judgments / s"], rows,
                      "whole run (all its tasks); judgments/s over the time spent waiting on the backend.")]

    def figures(self, c: dict[str, Any]) -> list[str]:
        task = headline_task(c)
        overall = {r["run"]: r for r in overall_rows(c) if r["task"] == task}
        paid = any((r["usd_per_1k"] or 0) > 0 for r in c["cost"])
        key, axis = ("usd_per_1k", "$ per 1,000 judgments") if paid else ("judgments_per_s", "judgments per second")
        points = [{"x": r[key], "y": overall[r["run"]]["score"], "low": overall[r["run"]]["ci_low"],
                   "high": overall[r["run"]]["ci_high"], "label": label(c, r["run"])}
                  for r in c["cost"] if r["run"] in overall]
        what = "cost" if paid else "speed (no judge had a cost)"
        return [svg.scatter(f"{task}: score vs {what}", points, axis, "score %")]
