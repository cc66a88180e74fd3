"""Per-run summary metrics: score with n and a 95% bootstrap CI per task and category, failure rates."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .types import ItemResult

SCORED = ("ok", "parse_error")
Scorer = Callable[[Sequence[ItemResult]], "float | None"]


@dataclass
class TaskAgg:
    """How a task's overall score is computed: the mean item score, the unweighted mean of its
    categories ("category_mean"), or a protocol's own formula (``scorer``)."""

    aggregate: str = "micro"
    scorer: Scorer | None = None


def scored_values(items: Sequence[ItemResult]) -> list[float]:
    return [it.score for it in items if it.status in SCORED and it.score is not None]


def task_value(items: Sequence[ItemResult], agg: TaskAgg) -> float:
    if agg.scorer is not None:
        v = agg.scorer(items)
        if v is not None:
            return float(v)
    if agg.aggregate == "category_mean":
        cats: dict[str, list[float]] = defaultdict(list)
        for it in items:
            if it.status in SCORED and it.score is not None:
                cats[it.category].append(it.score)
        return float(np.mean([np.mean(v) for v in cats.values()])) if cats else float("nan")
    vals = scored_values(items)
    return float(np.mean(vals)) if vals else float("nan")


def bootstrap_values(items: Sequence[ItemResult], agg: TaskAgg, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """Bootstrap distribution of a task's score, resampling items within each category (stratified)."""
    rng = np.random.default_rng(seed)
    by_cat: dict[str, list[ItemResult]] = defaultdict(list)
    for it in items:
        by_cat[it.category].append(it)
    groups = list(by_cat.values())
    out = np.empty(n_resamples)
    for b in range(n_resamples):
        sample: list[ItemResult] = []
        for g in groups:
            sample.extend(g[i] for i in rng.integers(0, len(g), len(g)))
        out[b] = task_value(sample, agg)
    return out


def _row(task: str, category: str, items: Sequence[ItemResult], agg: TaskAgg | None = None) -> dict[str, Any]:
    from .stats import mean_ci

    vals = scored_values(items)
    mean, low, high, n = mean_ci(vals)
    if agg is not None and (agg.scorer is not None or agg.aggregate == "category_mean"):
        mean = task_value(items, agg)
        dist = bootstrap_values(items, agg)
        low, high = (float(x) for x in np.nanpercentile(dist, [2.5, 97.5]))
    cons = [it.details.get("consistent") for it in items if it.details.get("consistent") is not None]
    cal = calibrated_ci(items)
    return {
        "task": task, "category": category, "n": n, "score": mean, "ci_low": low, "ci_high": high,
        "items": len(items),
        "parse_error_rate": sum(it.status == "parse_error" for it in items) / len(items) if items else 0.0,
        "parse_errors": sum(it.status == "parse_error" for it in items),
        "errors": sum(it.status == "error" for it in items),
        "excluded": sum(it.status == "excluded" or (it.status in SCORED and it.score is None) for it in items),
        "missing": sum(it.status == "missing" for it in items),
        "consistency": (sum(cons) / len(cons)) if cons else None,
        "calibrated": cal[0], "calibrated_low": cal[1], "calibrated_high": cal[2],
        "aggregate": (agg.aggregate if agg and agg.scorer is None else "task formula" if agg and agg.scorer else "micro"),
    }


def calibrated_ci(items: Sequence[ItemResult]) -> tuple[float | None, float | None, float | None]:
    """The position-calibrated score (``details.calibrated``, pairwise items judged in both orders) with its 95% CI;
    items without one (parse failures, errors) count as the task's rule scored them.  None when no item has one."""
    from .stats import mean_ci

    if not any("calibrated" in (it.details or {}) for it in items):
        return None, None, None
    vals = [float(it.details["calibrated"]["score"]) if "calibrated" in (it.details or {}) else float(it.score)
            for it in items if it.status in SCORED and (it.score is not None or "calibrated" in (it.details or {}))]
    mean, low, high, _ = mean_ci(vals)
    return mean, low, high


def summarize(items: Sequence[ItemResult], aggs: dict[str, TaskAgg] | None = None,
              group: tuple[str, str] | None = None,
              subgroups: Sequence[tuple[str, str, Sequence[str]]] = ()) -> list[dict[str, Any]]:
    """One row per task × category, one overall row per task (``category`` "all"), a row per nested
    group in ``subgroups`` (name, aggregate, its leaf tasks; inner groups first) and, for a task
    group, a final row: ``group = (name, "category_mean")`` averages the task scores unweighted
    (CI from the per-task bootstrap distributions); ``(name, "micro")`` pools all items."""
    aggs = aggs or {}
    by_task: dict[str, dict[str, list[ItemResult]]] = defaultdict(lambda: defaultdict(list))
    for it in items:
        by_task[it.task][it.category or "-"].append(it)
    rows = []
    for task, cats in by_task.items():
        if len(cats) > 1:
            rows.extend(_row(task, c, its) for c, its in sorted(cats.items()))
        rows.append(_row(task, "all", [it for its in cats.values() for it in its], aggs.get(task, TaskAgg())))
    task_rows = {r["task"]: r for r in rows if r["category"] == "all"}
    for name, how, members in subgroups:
        part = {t: by_task[t] for t in members if t in by_task}
        if len(part) > 1:
            rows.append(_group_row(name, how, part, task_rows, aggs))
    if group and len(by_task) > 1:
        rows.append(_group_row(group[0], group[1], by_task, task_rows, aggs))
    return rows


def _group_row(name: str, how: str, by_task: dict[str, dict[str, list[ItemResult]]],
               task_rows: dict[str, dict[str, Any]], aggs: dict[str, TaskAgg]) -> dict[str, Any]:
    per_task = {t: [it for its in c.values() for it in its] for t, c in by_task.items()}
    row = _row(name, "all", [it for v in per_task.values() for it in v])
    if how == "category_mean":
        dists = [bootstrap_values(v, aggs.get(t, TaskAgg())) for t, v in per_task.items()]
        point = float(np.mean([task_rows[t]["score"] for t in per_task]))
        low, high = (float(x) for x in np.nanpercentile(np.mean(dists, axis=0), [2.5, 97.5]))
        row.update(score=point, ci_low=low, ci_high=high, aggregate="mean of tasks")
    return row
