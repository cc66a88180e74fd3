"""Judge biases from item results: position (swap consistency, pick rates), length, and calibration."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..stats import dichotomize, ece, rate_ci, reliability_curve
from ..types import ItemResult

SCORED = ("ok", "parse_error")


def _scored(it: ItemResult) -> bool:
    return it.status in SCORED and it.score is not None


def position_stats(items: Sequence[ItemResult]) -> dict[str, Any]:
    """Swap consistency and, per number of positions k, each position's pick rate and accuracy.

    Counted per judgment (one entry of ``details["picks"]``).  ``pick_rate``: share of parsed
    picks that chose position p; ``correct_share``: share of those judgments whose correct answer
    sat at p (what an unbiased perfect judge would pick); ``accuracy_when_correct_here``: over
    judgments with exactly one correct answer, at p, the share that picked it (unparsed = wrong).
    """
    cons = [bool(it.details["consistent"]) for it in items if it.details.get("consistent") is not None]
    out: dict[str, Any] = {"swap_consistency": rate_ci(cons), "by_k": []}
    picks = [p for it in items for p in (it.details.get("picks") or [])]
    for k in sorted({int(p["n_positions"]) for p in picks}):
        ps = [p for p in picks if int(p["n_positions"]) == k]
        parsed = [p for p in ps if p.get("picked_position") is not None]
        single = [p for p in ps if len(p.get("correct_positions") or []) == 1]
        rows = []
        for pos in range(k):
            here = [p for p in single if p["correct_positions"][0] == pos]
            rows.append({
                "position": pos,
                "pick_rate": rate_ci([p["picked_position"] == pos for p in parsed]),
                "correct_share": (sum(pos in (p.get("correct_positions") or []) for p in parsed) / len(parsed)
                                  if parsed else None),
                "accuracy_when_correct_here": rate_ci([p.get("picked_position") == pos for p in here]),
            })
        out["by_k"].append({"n_positions": k, "judgments": len(ps), "parsed": len(parsed), "positions": rows})
    return out


def shown_candidates(pick: dict[str, Any], n_candidates: int) -> list[int] | None:
    """The candidate indices a judgment saw, in order: the pick's ``order`` or, when every candidate
    was shown, all of them; None when that cannot be told (e.g. a pair out of four, with no order)."""
    if pick.get("order") is not None:
        return [int(c) for c in pick["order"]]
    if int(pick.get("n_positions", -1)) == n_candidates:
        return list(range(n_candidates))
    return None


def length_stats(items: Sequence[ItemResult]) -> dict[str, Any]:
    """Length bias: how often the judge picks the longest shown answer, and accuracy split by whether
    the correct answers are all shorter (or all longer) than the incorrect ones.

    ``prefer_longer``: over parsed single-candidate picks among candidates with a unique longest one;
    ``chance``: the rate a length-blind judge would have (mean 1/k over the same picks).
    ``correct_shorter`` / ``correct_longer``: mean item credit over scored items where every correct
    shown candidate is strictly shorter (longer) than every incorrect one.
    """
    longer: list[bool] = []
    inv_k: list[float] = []
    unknown = 0
    shorter_scores: list[float] = []
    longer_scores: list[float] = []
    for it in items:
        lengths = it.details.get("lengths") or []
        labels = set(it.details.get("labels") or [])
        picks = it.details.get("picks") or []
        for p in picks:
            shown = shown_candidates(p, len(lengths))
            if shown is None:
                unknown += 1
                continue
            cand = p.get("picked_candidate")
            lens = [lengths[c] for c in shown]
            if isinstance(cand, bool) or not isinstance(cand, int) or cand not in shown or lens.count(max(lens)) > 1:
                continue
            longer.append(lengths[cand] == max(lens))
            inv_k.append(1.0 / len(shown))
        shown = shown_candidates(picks[0], len(lengths)) if picks else (list(range(len(lengths))) or None)
        if shown is None or not _scored(it):
            continue
        good = [lengths[c] for c in shown if c in labels]
        bad = [lengths[c] for c in shown if c not in labels]
        if good and bad and max(good) < min(bad):
            shorter_scores.append(float(it.score))  # type: ignore[arg-type]
        elif good and bad and min(good) > max(bad):
            longer_scores.append(float(it.score))  # type: ignore[arg-type]
    return {"prefer_longer": rate_ci(longer), "chance": float(np.mean(inv_k)) if inv_k else None,
            "correct_shorter": rate_ci(shorter_scores), "correct_longer": rate_ci(longer_scores),
            "unknown_shown": unknown}


def calibration_stats(items: Sequence[ItemResult], n_bins: int = 10) -> dict[str, Any] | None:
    """ECE and reliability curve over items whose judge gave a confidence (None when none did).

    An item is correct when its credit is full (score == 1, see :func:`judgebench.stats.dichotomize`).
    """
    rows = [it for it in items if it.status == "ok" and it.score is not None
            and it.details.get("confidence") is not None]
    if not rows:
        return None
    conf = np.array([float(it.details["confidence"]) for it in rows])
    correct = dichotomize([it.score for it in rows]).astype(float)
    return {"n": len(rows), "ece": ece(conf, correct, n_bins), "mean_confidence": float(conf.mean()),
            "accuracy": float(correct.mean()), "curve": reliability_curve(conf, correct, n_bins)}
