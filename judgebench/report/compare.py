"""Build the comparison of several runs: per task × category scores with CIs, paired tests, bias, cost."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import metrics
from ..metrics import TaskAgg
from ..stats import CORRECT_AT, mcnemar_exact, paired_diff_ci
from ..types import ItemResult
from .align import Alignment, align_runs
from .bias import calibration_stats, length_stats, position_stats

SCORED = metrics.SCORED


def official_scorer(protocol: str | None) -> Callable[[Sequence[ItemResult]], float | None] | None:
    """The protocol's own task formula (``Protocol.task_score``, e.g. the RewardBench 2 Ties score), or
    None when the protocol uses the mean item credit or cannot be loaded.

    ``task_score`` is by contract a pure function of the items, so it is called on an instance that
    was never configured; a formula that needs the instance's options falls back to the mean.
    """
    from .. import registry
    from ..errors import JudgebenchError
    from ..protocols import Protocol

    if not protocol:
        return None
    try:
        cls = registry.load("protocol", protocol)
    except JudgebenchError:
        return None
    if not (isinstance(cls, type) and issubclass(cls, Protocol)) or cls.task_score is Protocol.task_score:
        return None
    inst = cls.__new__(cls)

    def score(items: Sequence[ItemResult]) -> float | None:
        try:
            return inst.task_score(items)
        except AttributeError:
            return None
    return score


def task_aggs(run: Any) -> dict[str, TaskAgg]:
    """How each task of a run is aggregated: ``run.task_aggs`` when the run object provides it, else
    from the manifest (``aggregate`` and the protocol's own formula, see :func:`official_scorer`)."""
    given = getattr(run, "task_aggs", None)
    if isinstance(given, dict):
        return given
    tasks = (run.manifest or {}).get("tasks", {})
    return {t: TaskAgg(str(info.get("aggregate") or "micro"), scorer=official_scorer(info.get("protocol")))
            for t, info in tasks.items() if isinstance(info, dict)}


def _paired(a_items: Sequence[ItemResult], r_items: Sequence[ItemResult], agg: TaskAgg | None,
            seed: int) -> dict[str, Any]:
    """Run minus reference on the items both scored: mean-credit (or official-score) difference with a
    paired bootstrap CI, and the exact McNemar test on items dichotomised at full credit."""
    pairs = [(a, r) for a, r in zip(a_items, r_items)
             if a.status in SCORED and a.score is not None and r.status in SCORED and r.score is not None]
    if not pairs:
        return {"paired_n": 0, "diff": None, "diff_low": None, "diff_high": None, "wins": 0, "losses": 0,
                "p_value": None}
    xa = np.array([a.score for a, _ in pairs], dtype=float)
    xr = np.array([r.score for _, r in pairs], dtype=float)
    diff, low, high, n = paired_diff_ci(xa, xr, seed=seed)
    official = agg is not None and (agg.scorer is not None or agg.aggregate == "category_mean")
    if official and all(a.category == r.category for a, r in pairs):
        pa, pr = [a for a, _ in pairs], [r for _, r in pairs]
        diff = metrics.task_value(pa, agg) - metrics.task_value(pr, agg)  # type: ignore[arg-type]
        dist = metrics.bootstrap_values(pa, agg, seed=seed) - metrics.bootstrap_values(pr, agg, seed=seed)  # type: ignore[arg-type]
        low, high = (float(x) for x in np.nanpercentile(dist, [2.5, 97.5]))
    mc = mcnemar_exact(xa, xr, CORRECT_AT)
    return {"paired_n": n, "diff": float(diff), "diff_low": low, "diff_high": high, "wins": mc.b,
            "losses": mc.c, "p_value": mc.p_value}


def _cost(run: Any) -> dict[str, Any]:
    u = dict(run.usage or {})
    n = u.get("n_judgments") or 0
    cost = u.get("cost_usd")
    jps = u.get("judgments_per_s")
    if jps is None and u.get("wall_s"):
        jps = n / u["wall_s"] if u["wall_s"] > 0 else None
    return {"n_judgments": n, "prompt_tokens": u.get("prompt_tokens"), "completion_tokens": u.get("completion_tokens"),
            "cost_usd": cost, "usd_per_1k": (cost / n * 1000) if cost is not None and n else None,
            "judgments_per_s": jps, "wall_s": u.get("wall_s")}


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    return x


def build_comparison(runs: Sequence[Any], reference: int = 0, intersect: bool = False, seed: int = 0
                     ) -> dict[str, Any]:
    """Everything the tables and the HTML report show, as one JSON-serialisable dict.

    ``runs`` are :class:`judgebench.results.RunResult`-like objects; ``reference`` is the index of the
    run the others are tested against (paired on shared items).
    """
    ordered = [runs[reference]] + [r for i, r in enumerate(runs) if i != reference]
    al = align_runs(ordered, intersect=intersect)
    rows: list[dict[str, Any]] = []
    for i, (name, run) in enumerate(zip(al.names, al.runs)):
        aggs = task_aggs(run)
        items = al.run_items(i)
        for row in metrics.summarize(items, aggs):
            row = {"run": name, "backend": run.backend, **row}
            cat = None if row["category"] == "all" else row["category"]
            cat_key = "" if cat == "-" else cat
            if i == 0:
                row.update(paired_n=None, diff=None, diff_low=None, diff_high=None, wins=None, losses=None,
                           p_value=None)
            else:
                agg = aggs.get(row["task"]) if cat is None else None
                row.update(_paired(al.run_items(i, row["task"], cat_key), al.run_items(0, row["task"], cat_key),
                                   agg, seed))
            rows.append(row)
    bias = []
    for i, (name, run) in enumerate(zip(al.names, al.runs)):
        for t in al.tasks:
            items = al.run_items(i, t)
            bias.append({"run": name, "backend": run.backend, "task": t, "position": position_stats(items),
                         "length": length_stats(items), "calibration": calibration_stats(items)})
    cost = [{"run": n, "backend": r.backend, "fingerprint": r.fingerprint, **_cost(r)}
            for n, r in zip(al.names, al.runs)]
    return _nan_to_none({
        "runs": [{"name": n, "run_dir": str(r.run_dir), "backend": r.backend, "fingerprint": r.fingerprint,
                  "tasks": dict(r.tasks), "contaminated": bool((r.manifest or {}).get("contaminated_items"))}
                 for n, r in zip(al.names, al.runs)],
        "reference": al.names[0], "tasks": al.tasks, "n_items": len(al.keys),
        "intersected": al.intersected, "notes": al.notes, "correct_at": CORRECT_AT,
        "rows": rows, "bias": bias, "cost": cost,
    })


__all__ = ["Alignment", "build_comparison", "task_aggs"]
