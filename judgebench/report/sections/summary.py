"""The headline: a judge × task matrix (task groups included) with score, 95% CI and n, and its forest figure."""
from __future__ import annotations

from typing import Any

from .. import svg
from ..tables import Table, pct_ci
from . import Section, judges, overall_rows, section, task_tree, tidy


def _by_task(c: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["task"], r["run"]): r for r in overall_rows(c)}


@section
class Summary(Section):
    key = "summary"
    title = "Summary"
    order = 0

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        return [tidy("score", c, r, "score", r["score"], r["ci_low"], r["ci_high"], r["n"]) for r in overall_rows(c)]

    def tables(self, c: dict[str, Any]) -> list[Table]:
        by = _by_task(c)
        js = judges(c)
        rows = []
        for task, depth, is_group in task_tree(c):
            cells = [by.get((task, name)) for name, _ in js]
            ns = {r["n"] for r in cells if r}
            n = max(ns) if ns else 0
            row = ["  " * depth + task + (" (group)" if is_group else ""), str(n)]
            for r in cells:
                cell = pct_ci(r["score"], r["ci_low"], r["ci_high"]) if r else "—"
                row.append(cell + (f" n={r['n']}" if r and r["n"] != n else ""))
            rows.append(row)
        note = ("score % [95% bootstrap CI] of each judge (column) on each task (row). n: items scored (a judge with "
                "fewer shows its own n). Group rows: " + "; ".join(f"{g['name']} = {_how(g)}" for g in c["groups"])
                + "." if c["groups"] else "score % [95% bootstrap CI] of each judge (column) on each task (row); "
                "n: items scored (a judge with fewer shows its own n).")
        return [Table("Scores by judge and task", ["task", "n", *[lab for _, lab in js]], rows, note)]

    def figures(self, c: dict[str, Any]) -> list[str]:
        by = _by_task(c)
        js = judges(c)
        rows: list[dict[str, Any]] = []
        for task, depth, is_group in task_tree(c):
            if rows:
                rows.append({"label": "", "value": None})
            for i, (name, _) in enumerate(js):
                r = by.get((task, name))
                rows.append({"label": task if i == (len(js) - 1) // 2 else "", "bold": is_group, "series": i,
                             "value": r["score"] if r else None, "low": r["ci_low"] if r else None,
                             "high": r["ci_high"] if r else None})
        return [svg.forest("Score by judge and task (95% CI)", rows, "score %", lo=0.0, hi=1.0,
                           legend=[lab for _, lab in js])]


def _how(g: dict[str, Any]) -> str:
    return "unweighted mean of its tasks" if g["aggregate"] == "category_mean" else "all its items pooled"


def headline_task(c: dict[str, Any]) -> str:
    """The first row of the summary: the outermost task group, or the first task."""
    tree = task_tree(c)
    return tree[0][0] if tree else c["tasks"][0]
