"""Report sections: each computes its tidy rows from the comparison and draws its own tables and figures.

A new metric is one module in this package with a :class:`Section` subclass decorated with :func:`section`; every
output format (terminal, markdown, HTML, CSV, JSON, LaTeX) picks it up from :func:`all_sections`.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

from ..tables import Table, intersection_line

TIDY_COLUMNS = ["section", "run", "judge", "backend", "task", "category", "metric", "value", "ci_low", "ci_high", "n",
                "p_value"]
_REGISTRY: list[type[Section]] = []


class Section:
    """One part of the report.  ``order`` places it (the summary is 0); ``key`` names it in CSV and JSON."""

    key = ""
    title = ""
    order = 100

    def rows(self, c: dict[str, Any]) -> list[dict[str, Any]]:
        """Tidy rows, one metric each, with the columns of :data:`TIDY_COLUMNS`."""
        return []

    def tables(self, c: dict[str, Any]) -> list[Table]:
        return []

    def figures(self, c: dict[str, Any]) -> list[str]:
        """Inline SVG charts (HTML only)."""
        return []


def section(cls: type[Section]) -> type[Section]:
    """Class decorator: add a section to the report."""
    if not any(s.key == cls.key for s in _REGISTRY):
        _REGISTRY.append(cls)
    return cls


def all_sections() -> list[Section]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return [cls() for cls in sorted(_REGISTRY, key=lambda s: (s.order, s.key))]


def label(c: dict[str, Any], run: str) -> str:
    """The judge label of a run name (what every format shows)."""
    return (c.get("labels") or {}).get(run, run)


def tables(c: dict[str, Any]) -> list[Table]:
    """Every section's tables, in report order (what the text formats print)."""
    return [t for s in all_sections() for t in s.tables(c)]


def header_lines(c: dict[str, Any]) -> list[str]:
    """The report header: the reference, the items and tasks, each judge, and the intersection warning."""
    lines = [f"reference: {label(c, c['reference'])}; {c['n_items']} items; tasks: {', '.join(c['tasks'])}"]
    lines += [f"judge {label(c, r['name'])}: {r['backend']}, run {r['run_dir']}"
              + ("  CONTAMINATED" if r["contaminated"] else "") for r in c["runs"]]
    if c["intersected"]:
        lines.append(intersection_line(c))
    return lines


def judges(c: dict[str, Any]) -> list[tuple[str, str]]:
    """(run name, judge label) in comparison order, the reference first."""
    return [(r["name"], label(c, r["name"])) for r in c["runs"]]


def tidy(section: str, c: dict[str, Any], r: dict[str, Any], metric: str, value: Any, low: Any = None,
         high: Any = None, n: Any = None, p: Any = None, category: str = "all", task: str | None = None
         ) -> dict[str, Any]:
    return {"section": section, "run": r["run"], "judge": label(c, r["run"]), "backend": r["backend"],
            "task": r.get("task", "") if task is None else task, "category": category, "metric": metric,
            "value": value, "ci_low": low, "ci_high": high, "n": n, "p_value": p}


def task_tree(c: dict[str, Any]) -> list[tuple[str, int, bool]]:
    """The compared tasks and task groups as (name, depth, is_group), each group above its members: a group's
    members are its largest subgroups and the tasks they do not cover, in the group's order."""
    groups = {g["name"]: list(g["tasks"]) for g in c.get("groups") or []}
    out: list[tuple[str, int, bool]] = []

    def children(name: str) -> list[str]:
        members = groups[name]
        subs = [g for g, ts in groups.items() if g != name and set(ts) < set(members)]
        top = [g for g in subs if not any(set(groups[g]) < set(groups[h]) for h in subs if h != g)]
        covered = {t for g in top for t in groups[g]}
        kids: list[str] = []
        for t in members:
            owner = next((g for g in top if t in groups[g]), None)
            item = owner if owner else t
            if item not in kids and (owner or t not in covered):
                kids.append(item)
        return kids

    def walk(name: str, depth: int) -> None:
        out.append((name, depth, name in groups))
        if name in groups:
            for k in children(name):
                walk(k, depth + 1)
    roots = [g for g in groups if not any(set(groups[g]) < set(groups[h]) for h in groups if h != g)]
    for g in roots:
        walk(g, 0)
    seen = {n for n, _, _ in out}
    for t in c["tasks"]:
        if t not in seen:
            walk(t, 0)
    return out


def overall_rows(c: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of each run's overall score per task and task group (category "all")."""
    return (r for r in c["rows"] if r["category"] == "all")


__all__ = [
    "TIDY_COLUMNS",
    "Section",
    "all_sections",
    "header_lines",
    "judges",
    "label",
    "overall_rows",
    "section",
    "tables",
    "task_tree",
    "tidy",
]
