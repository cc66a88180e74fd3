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
PERMUTATIONS = 2000  # random swaps in the paired permutation test of official / group aggregates


def official_scorer(protocol: str | None) -> Callable[[Sequence[ItemResult]], float | None] | None:
    """The protocol's own task formula (``Protocol.task_score``, e.g. the RewardBench 2 Ties score), or
    None when the protocol uses the mean item credit or cannot be loaded.

    ``task_score`` is by contract a classmethod, a pure function of the items: it is called on the protocol
    class (:func:`~judgebench.protocol_base.task_scorer`), never on an instance.
    """
    from .. import registry
    from ..errors import JudgebenchError
    from ..protocol_base import task_scorer

    if not protocol:
        return None
    try:
        cls = registry.load("protocol", protocol)
    except JudgebenchError:
        return None
    return task_scorer(cls)


def task_aggs(run: Any) -> dict[str, TaskAgg]:
    """How each task of a run is aggregated: ``run.task_aggs`` when the run object provides it, else
    from the manifest (``aggregate`` and the protocol's own formula, see :func:`official_scorer`)."""
    given = getattr(run, "task_aggs", None)
    if isinstance(given, dict):
        return given
    tasks = (run.manifest or {}).get("tasks", {})
    return {t: TaskAgg(str(info.get("aggregate") or "micro"), scorer=official_scorer(info.get("protocol")))
            for t, info in tasks.items() if isinstance(info, dict)}


def _both_scored(a_items: Sequence[ItemResult], r_items: Sequence[ItemResult]
                 ) -> tuple[list[ItemResult], list[ItemResult]]:
    pairs = [(a, r) for a, r in zip(a_items, r_items)
             if a.status in SCORED and a.score is not None and r.status in SCORED and r.score is not None]
    return [a for a, _ in pairs], [r for _, r in pairs]


def _paired(a_items: Sequence[ItemResult], r_items: Sequence[ItemResult], agg: TaskAgg | None,
            seed: int) -> dict[str, Any]:
    """Run minus reference on the items both scored.  A mean-credit score gets a paired bootstrap CI and the
    exact McNemar test on items dichotomised at full credit; an official aggregate (a category mean or the
    task's own formula) gets the difference of the aggregates, a paired stratified bootstrap CI and a paired
    permutation test (``test`` says which).  Wins/losses are always the McNemar counts."""
    pa, pr = _both_scored(a_items, r_items)
    if not pa:
        return {"paired_n": 0, "diff": None, "diff_low": None, "diff_high": None, "wins": 0, "losses": 0,
                "p_value": None, "test": None}
    xa = np.array([a.score for a in pa], dtype=float)
    xr = np.array([r.score for r in pr], dtype=float)
    mc = mcnemar_exact(xa, xr, CORRECT_AT)
    official = agg is not None and (agg.scorer is not None or agg.aggregate == "category_mean")
    if official and all(a.category == r.category for a, r in zip(pa, pr)):
        diff, low, high, p = official_paired([(pa, pr, agg)], seed)  # type: ignore[list-item]
        test = "permutation"
    else:
        diff, low, high, _ = paired_diff_ci(xa, xr, seed=seed)
        p, test = mc.p_value, "mcnemar"
    return {"paired_n": len(pa), "diff": float(diff), "diff_low": low, "diff_high": high, "wins": mc.b,
            "losses": mc.c, "p_value": p, "test": test}


Leaf = tuple[list[ItemResult], list[ItemResult], TaskAgg]


def official_paired(leaves: Sequence[Leaf], seed: int = 0, n_perm: int = PERMUTATIONS
                    ) -> tuple[float, float, float, float]:
    """(difference, CI low, CI high, p) of the unweighted mean over ``leaves`` of each leaf's aggregate, run
    minus reference; each leaf is (run items, reference items, how the leaf is aggregated), aligned item for
    item and all scored.  CI: paired bootstrap (the same resampled items for both judges, stratified by leaf and
    category).  p: two-sided paired permutation test — under "no difference" each item's two results are
    exchangeable, so they are swapped at random ``n_perm`` times; p = (1 + #{|Δ*| >= |Δ|}) / (1 + n_perm)."""
    def side(k: int) -> float:
        return float(np.mean([metrics.task_value(leaf[k], leaf[2]) for leaf in leaves]))

    diff = side(0) - side(1)
    dist = np.mean([metrics.bootstrap_values(a, agg, seed=seed) - metrics.bootstrap_values(r, agg, seed=seed)
                    for a, r, agg in leaves], axis=0)
    low, high = (float(x) for x in np.nanpercentile(dist, [2.5, 97.5]))
    return diff, low, high, permutation_p(leaves, diff, seed, n_perm)


def permutation_p(leaves: Sequence[Leaf], observed: float, seed: int = 0, n_perm: int = PERMUTATIONS) -> float:
    """The paired permutation p-value of :func:`official_paired` (vectorised where a leaf's aggregate is linear
    in the item credits: a mean, or a mean of category means; a task formula is recomputed per permutation)."""
    rng = np.random.default_rng(seed)
    stat = np.zeros(n_perm)
    for a, r, agg in leaves:
        swap = rng.random((n_perm, len(a))) < 0.5
        if agg.scorer is None:
            d = np.array([x.score - y.score for x, y in zip(a, r)], dtype=float)  # type: ignore[operator]
            stat += np.where(swap, -1.0, 1.0) @ (_linear_weights(a, agg) * d)
            continue
        for b in range(n_perm):
            aa = [y if s else x for x, y, s in zip(a, r, swap[b])]
            rr = [x if s else y for x, y, s in zip(a, r, swap[b])]
            stat[b] += metrics.task_value(aa, agg) - metrics.task_value(rr, agg)
    stat /= len(leaves)
    hits = int(np.sum(np.abs(stat) >= abs(observed) - 1e-12))
    return float((1 + hits) / (1 + n_perm))


def _linear_weights(items: Sequence[ItemResult], agg: TaskAgg) -> np.ndarray:
    """w with aggregate = sum(w * credit): 1/n for a mean; 1/(categories x category size) for a category mean."""
    n = len(items)
    if agg.aggregate != "category_mean":
        return np.full(n, 1.0 / n)
    sizes: dict[str, int] = {}
    for it in items:
        sizes[it.category] = sizes.get(it.category, 0) + 1
    return np.array([1.0 / (len(sizes) * sizes[it.category]) for it in items])


def run_groups(run: Any) -> list[tuple[str, str, list[str]]]:
    """The task groups a run was started on, inner groups first: (name, aggregate, leaf tasks).  From the
    manifest (``groups``), else — for runs written before it was recorded — from the task index."""
    m = run.manifest or {}
    if isinstance(m.get("groups"), list):
        return [(str(g["name"]), str(g["aggregate"]), [str(t) for t in g["tasks"]]) for g in m["groups"]]
    cfg = m.get("config") or {}
    from ..errors import JudgebenchError
    from ..resolve import group_tree
    from ..task import TaskIndex

    try:
        return group_tree(TaskIndex(cfg.get("include_paths") or []), str(cfg.get("task")))[1]
    except (JudgebenchError, OSError, TypeError, ValueError):
        return []


def _group_paired(al: Alignment, i: int, how: str, members: Sequence[str], aggs: dict[str, TaskAgg],
                  seed: int) -> dict[str, Any]:
    """Run i minus the reference on a group row: pooled items (a "micro" group) or the mean of the member
    tasks' aggregates (with the permutation test), on the items both scored."""
    if how != "category_mean":
        a = [it for t in members for it in al.run_items(i, t)]
        r = [it for t in members for it in al.run_items(0, t)]
        return _paired(a, r, None, seed)
    leaves = [(*_both_scored(al.run_items(i, t), al.run_items(0, t)), aggs.get(t, TaskAgg())) for t in members]
    leaves = [leaf for leaf in leaves if leaf[0]]
    if not leaves:
        return _paired([], [], None, seed)
    diff, low, high, p = official_paired(leaves, seed)  # type: ignore[arg-type]
    mc = mcnemar_exact([x.score for leaf in leaves for x in leaf[0]], [x.score for leaf in leaves for x in leaf[1]])
    return {"paired_n": sum(len(leaf[0]) for leaf in leaves), "diff": diff, "diff_low": low, "diff_high": high,
            "wins": mc.b, "losses": mc.c, "p_value": p, "test": "permutation"}


def _cost(run: Any) -> dict[str, Any]:
    u = dict(run.usage or {})
    n = u.get("n_judgments") or 0
    cost = u.get("cost_usd")
    jps = u.get("judgments_per_s")
    if jps is None and u.get("wall_s"):
        jps = n / u["wall_s"] if u["wall_s"] > 0 else None
    return {"n_judgments": n, "prompt_tokens": u.get("prompt_tokens"), "completion_tokens": u.get("completion_tokens"),
            "cost_usd": cost, "usd_per_1k": (cost / n * 1000) if cost is not None and n else None,
            "judgments_per_s": jps, "wall_s": u.get("wall_s"), **_rates(u.get("rates")), "jury": u.get("jury")}


def _rates(r: Any) -> dict[str, Any]:
    """Hosted APIs: achieved requests/min and tokens/min and the count of 429 answers."""
    if not isinstance(r, dict):
        return {}
    return {"achieved_rpm": r.get("achieved_rpm"), "achieved_tpm": r.get("achieved_tpm"), "n_429": r.get("n_429"),
            "concurrency_peak": r.get("concurrency_peak")}


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    return x


def build_comparison(runs: Sequence[Any], reference: int = 0, intersect: bool = False, seed: int = 0,
                     labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything the tables and the HTML report show, as one JSON-serialisable dict.

    ``runs`` are :class:`judgebench.results.RunResult`-like objects; ``reference`` is the index of the
    run the others are tested against (paired on shared items); ``labels`` overrides judge labels
    ({run directory or name: label}, see :func:`judgebench.report.labels.judge_labels`).
    """
    from .labels import judge_labels

    ordered = [runs[reference]] + [r for i, r in enumerate(runs) if i != reference]
    al = align_runs(ordered, intersect=intersect)
    # group rows (e.g. RewardBench 2 overall, LLMBar adversarial): the reference run's groups whose tasks are all
    # compared; a group needs two or more tasks (one task's row already is its score)
    groups = [g for g in run_groups(al.runs[0]) if len(g[2]) > 1 and set(g[2]) <= set(al.tasks)]
    group_how = {name: (how, members) for name, how, members in groups}
    rows: list[dict[str, Any]] = []
    for i, (name, run) in enumerate(zip(al.names, al.runs)):
        aggs = task_aggs(run)
        items = al.run_items(i)
        for row in metrics.summarize(items, aggs, None, groups):
            row = {"run": name, "backend": run.backend, **row}
            cat = None if row["category"] == "all" else row["category"]
            cat_key = "" if cat == "-" else cat
            if i == 0:
                row.update(paired_n=None, diff=None, diff_low=None, diff_high=None, wins=None, losses=None,
                           p_value=None, test=None)
            elif row["task"] in group_how:
                how, members = group_how[row["task"]]
                row.update(_group_paired(al, i, how, members, aggs, seed))
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
    judge = dict(zip(al.names, judge_labels(al.runs, labels)))
    return _nan_to_none({
        "runs": [{"name": n, "label": judge[n], "run_dir": str(r.run_dir), "backend": r.backend,
                  "fingerprint": r.fingerprint, "mode": (r.manifest or {}).get("mode"), "n_run_items": len(r.items),
                  "tasks": dict(r.tasks), "contaminated": bool((r.manifest or {}).get("contaminated_items"))}
                 for n, r in zip(al.names, al.runs)],
        "labels": judge,
        "reference": al.names[0], "tasks": al.tasks, "n_items": len(al.keys),
        "intersected": al.intersected, "notes": al.notes, "correct_at": CORRECT_AT, "permutations": PERMUTATIONS,
        "groups": [{"name": n, "aggregate": h, "tasks": m} for n, h, m in groups],
        "rows": rows, "bias": bias, "cost": cost,
    })


__all__ = ["Alignment", "add_calibrated", "build_comparison", "calibrated_run", "official_paired", "run_groups",
           "task_aggs"]


def calibrated_run(run: Any) -> Any:
    """``run`` scored by balanced position calibration (each item's ``details.calibrated``), as its own task name
    ``<task> (calibrated)``; None when an item of the run was not judged in both orders (or no item was)."""
    from dataclasses import replace

    from ..types import stable_hash

    items, names = [], {}
    for it in run.items:
        cal = (it.details or {}).get("calibrated")
        if it.task not in run.tasks:
            continue
        if cal is None and it.status == "ok":
            return None
        name = names.setdefault(it.task, f"{it.task} (calibrated)")
        score = cal["score"] if cal is not None else it.score
        items.append(replace(it, task=name, score=score, details={**(it.details or {}), "consistent": None}))
    if not items:
        return None
    tasks = {names[t]: stable_hash([h, "calibrated"], 16) for t, h in run.tasks.items() if t in names}
    manifest = {**run.manifest, "tasks": {n: {"aggregate": "micro", "task_hash": h} for n, h in tasks.items()}}
    return replace(run, items=items, tasks=tasks, manifest=manifest)


def add_calibrated(c: dict[str, Any], runs: Sequence[Any], reference: int = 0, intersect: bool = False,
                   seed: int = 0, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Add ``c["calibrated"]``: the same runs scored by balanced position calibration, with paired tests against
    the reference — only when every run judged every item in both orders (a task whose official rule fixes its
    own aggregation keeps no calibrated score, so it gets none here either)."""
    cal = [calibrated_run(r) for r in runs]
    if len(cal) > 1 and all(x is not None for x in cal):
        c["calibrated"] = {"rows": build_comparison(cal, reference=reference, intersect=intersect, seed=seed,
                                                    labels=labels)["rows"]}
    return c
