"""Table cells shared by every section and format (the bottom of the report package: it imports none of it).

The report header and the tables in order are in :mod:`.sections`; the formats in :mod:`.formats`."""
from __future__ import annotations

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


def intersection_line(c: dict[str, Any]) -> str:
    """One line saying that (and how) the runs were narrowed to their shared items; the itemised reasons stay in the
    JSON ``notes``."""
    if not c["intersected"]:
        return ""
    differing = [t for t in {t for r in c["runs"] for t in r["tasks"]}
                 if len({r["tasks"].get(t) for r in c["runs"]}) > 1]
    sizes = [r.get("n_run_items") for r in c["runs"] if r.get("n_run_items") is not None]
    held = f" (the runs hold {min(sizes)}–{max(sizes)})" if sizes and min(sizes) != max(sizes) else ""
    why = f"; {len(differing)} task(s) were judged with different definitions, splits or limits" if differing else ""
    return (f"INTERSECTION: compared on the {c['n_items']} items every run has{held}{why}; "
            f"{len(c['notes']) - 1} difference(s) listed in the JSON notes.")
