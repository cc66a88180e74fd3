"""Per-run summary metrics: score with n and a 95% bootstrap CI per task and category, failure rates."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np

from .types import ItemResult

SCORED = ("ok", "parse_error")


def scored_values(items: Sequence[ItemResult]) -> list[float]:
    return [it.score for it in items if it.status in SCORED and it.score is not None]


def category_mean_ci(groups: Mapping[str, Sequence[float]], confidence: float = 0.95, n_resamples: int = 2000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Unweighted mean of category means with a stratified bootstrap CI (each category resampled alone)."""
    from scipy import stats

    arrays = [np.asarray(v, float) for v in groups.values() if len(v)]
    if not arrays:
        return float("nan"), float("nan"), float("nan")
    point = float(np.mean([a.mean() for a in arrays]))
    if all(len(a) < 2 or np.all(a == a[0]) for a in arrays):
        return point, point, point
    res = stats.bootstrap(tuple(arrays), lambda *xs, axis=-1: np.mean([x.mean(axis=axis) for x in xs], axis=0),
                          confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                          random_state=np.random.default_rng(seed), vectorized=True)
    return point, float(res.confidence_interval.low), float(res.confidence_interval.high)


def _row(task: str, category: str, items: Sequence[ItemResult]) -> dict[str, Any]:
    from .stats import mean_ci

    vals = scored_values(items)
    mean, low, high, n = mean_ci(vals)
    cons = [it.details.get("consistent") for it in items if it.details.get("consistent") is not None]
    return {
        "task": task, "category": category, "n": n, "score": mean, "ci_low": low, "ci_high": high,
        "items": len(items),
        "parse_error_rate": sum(it.status == "parse_error" for it in items) / len(items) if items else 0.0,
        "parse_errors": sum(it.status == "parse_error" for it in items),
        "errors": sum(it.status == "error" for it in items),
        "excluded": sum(it.status in ("excluded",) or (it.status in SCORED and it.score is None) for it in items),
        "missing": sum(it.status == "missing" for it in items),
        "consistency": (sum(cons) / len(cons)) if cons else None,
    }


def summarize(items: Sequence[ItemResult], aggregates: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per task × category, then one overall row per task (``category`` = "all").

    ``aggregates`` maps a task to "micro" (mean over items) or "category_mean" (unweighted mean of
    the category scores, as RewardBench 2 defines its overall score).
    """
    by_task: dict[str, dict[str, list[ItemResult]]] = defaultdict(lambda: defaultdict(list))
    for it in items:
        by_task[it.task][it.category or "-"].append(it)
    rows = []
    for task, cats in by_task.items():
        if len(cats) > 1:
            rows.extend(_row(task, c, its) for c, its in sorted(cats.items()))
        overall = _row(task, "all", [it for its in cats.values() for it in its])
        if (aggregates or {}).get(task) == "category_mean" and len(cats) > 1:
            groups = {c: scored_values(its) for c, its in cats.items()}
            overall["score"], overall["ci_low"], overall["ci_high"] = category_mean_ci(groups)
            overall["aggregate"] = "category_mean"
        rows.append(overall)
    return rows
