"""Each judge against the reference on the items both scored: difference with paired CI, p-value, wins/losses."""
from __future__ import annotations

from typing import Any

from .. import svg
from ..tables import Table, p_cell, paired_note, pp
from . import Section, judges, label, section, task_tree, tidy


@section
class Paired(Section):
    key = "paired"
    title = "Paired differences against the reference"
    order = 10

    def _rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in c["rows"] if r["paired_n"] is not None]

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for r in self._rows(c):
            cat = r["category"]
            out += [tidy("paired", c, r, "diff_vs_reference", r["diff"], r["diff_low"], r["diff_high"], r["paired_n"],
                         r["p_value"], category=cat),
                    tidy("paired", c, r, "test", r.get("test"), category=cat),
                    tidy("paired", c, r, "mcnemar_wins", r["wins"], category=cat),
                    tidy("paired", c, r, "mcnemar_losses", r["losses"], category=cat)]
        return out

    def tables(self, c: dict[str, Any]) -> list[Table]:
        rows = [[label(c, r["run"]), r["task"], r["category"], str(r["paired_n"]),
                 f"{pp(r['diff'])} [{pp(r['diff_low'])}, {pp(r['diff_high'])}]",
                 f"{p_cell(r['p_value'], r.get('test'))} ({r['wins']}/{r['losses']})"] for r in self._rows(c)]
        if not rows:
            return []
        note = (f"Δ: judge minus the reference ({label(c, c['reference'])}) in points on the items both scored, "
                f"paired bootstrap 95% CI. " + paired_note(c))
        return [Table(f"Difference vs {label(c, c['reference'])}",
                      ["judge", "task", "category", "n", "Δ (pp) [95% CI]", "paired p (w/l)"], rows, note)]

    def figures(self, c: dict[str, Any]) -> list[str]:
        by = {(r["task"], r["run"]): r for r in self._rows(c) if r["category"] == "all"}
        js = judges(c)[1:]
        if not js:
            return []
        rows: list[dict[str, Any]] = []
        for task, _, is_group in task_tree(c):
            if rows and len(js) > 1:
                rows.append({"label": "", "value": None})
            for i, (name, _) in enumerate(js):
                r = by.get((task, name))
                rows.append({"label": task if i == (len(js) - 1) // 2 else "", "bold": is_group, "series": i + 1,
                             "value": r["diff"] if r else None, "low": r["diff_low"] if r else None,
                             "high": r["diff_high"] if r else None})
        return [svg.forest(f"Difference vs {label(c, c['reference'])} (paired 95% CI)", rows, "points",
                           legend=[lab for _, lab in js], legend_first=1)]
