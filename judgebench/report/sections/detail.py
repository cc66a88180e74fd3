"""Per task and category: each judge's score, parse failures, errors and swap consistency."""
from __future__ import annotations

from typing import Any

from ...console import fmt_pct
from .. import svg
from ..tables import Table, pct_ci
from . import Section, judges, label, section, tidy

COUNTS = ("parse_error_rate", "parse_errors", "errors", "excluded", "missing", "consistency")


@section
class Detail(Section):
    key = "detail"
    title = "Per task and category"
    order = 20

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for r in c["rows"]:
            cat = r["category"]
            if cat != "all":
                out.append(tidy("score", c, r, "score", r["score"], r["ci_low"], r["ci_high"], r["n"], category=cat))
            out += [tidy("score", c, r, k, r[k], n=r["items"], category=cat) for k in COUNTS]
        return out

    def tables(self, c: dict[str, Any]) -> list[Table]:
        rows = [[label(c, r["run"]), r["task"], r["category"], str(r["n"]), pct_ci(r["score"], r["ci_low"], r["ci_high"]),
                 fmt_pct(r["parse_error_rate"]), f"{r['errors']}/{r['excluded']}/{r['missing']}",
                 fmt_pct(r["consistency"]) if r.get("consistency") is not None else "—"] for r in c["rows"]]
        note = ("score: mean credit, or the task's official aggregate on its \"all\" row (group rows: the mean of their "
                "tasks, or all items pooled), in %, with a 95% bootstrap CI. err/excl/miss: items that ended in an "
                "error / were excluded / were never judged. consistent: both orders gave the same verdict.")
        return [Table("Scores per task and category", ["judge", "task", "category", "n", "score % [95% CI]",
                                                       "parse fail %", "err/excl/miss", "consistent %"], rows, note)]

    def figures(self, c: dict[str, Any]) -> list[str]:
        out = []
        for task in c["tasks"]:
            rows = [r for r in c["rows"] if r["task"] == task]
            cats = list(dict.fromkeys(r["category"] for r in rows))
            if len(cats) < 2:
                continue
            series = []
            for name, lab in judges(c):
                by = {r["category"]: r for r in rows if r["run"] == name}
                series.append({"name": lab, "values": [by[k]["score"] if k in by else None for k in cats],
                               "lows": [by[k]["ci_low"] if k in by else None for k in cats],
                               "highs": [by[k]["ci_high"] if k in by else None for k in cats]})
            out.append(svg.grouped_bars(f"{task}: score by category (95% CI)", cats, series, "score %"))
        return out
