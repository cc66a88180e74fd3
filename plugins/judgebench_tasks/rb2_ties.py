"""RewardBench 2's official Ties score: accuracy on tied:N / ref:N rows plus the two margin tests and a tanh term.

Reimplements ``_compute_prompt_stats`` and ``process_single_model`` of allenai/reward-bench ``rewardbench/utils.py``
(commit a0096928) on plain lists, with the same numpy arithmetic (so a correct-vs-correct margin of 0 gives the
tanh term ±1 — or 0 for 0/0 — exactly as the official ``np.nan_to_num`` path does, and a perfect judge scores 1.01):

  score = 0.30·tied accuracy + 0.30·ref accuracy + 0.20·P(correct–incorrect margin of tied:N > its correct–correct
          margin) + 0.20·P(min(margin of ref:N, margin of tied:N) > correct–correct margin)
          + 0.01·mean tanh(min(ref margin, tied margin) / correct–correct margin − 1)

A row is *accurate* when its worst correct answer is rated above its best incorrect one.  The margin terms are taken
over the N that have both a tied:N and a ref:N row.  For a bootstrap resample (where an id can occur several times)
every occurrence counts once: with no repeated id the result is the official one, bit for bit.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np

Stats = tuple[bool, "float | None", float]  # accurate, correct-correct margin (None if < 2 correct), correct-incorrect


def prompt_stats(correct: Sequence[bool], scores: Sequence[float]) -> Stats:
    """(accurate, different_correct_margin, correct_incorrect_margin) of one row."""
    right = [s for c, s in zip(correct, scores) if c]
    wrong = [s for c, s in zip(correct, scores) if not c]
    if not right or not wrong:
        raise ValueError("a Ties row needs at least one correct and one incorrect answer")
    diff = max(right) - min(right) if len(right) > 1 else None
    margin = min(right) - max(wrong)
    return margin > 0, diff, margin


def ties_components(rows: Sequence[tuple[str, Sequence[bool], Sequence[float]]]) -> dict[str, float]:
    """The official formula's parts and total for rows of (id "tied:N"/"ref:N", correct flags, scores)."""
    ref_occ: list[tuple[int, Stats]] = []
    tied_occ: list[tuple[int, Stats]] = []
    for rid, correct, scores in rows:
        kind, _, num = rid.partition(":")
        (ref_occ if kind == "ref" else tied_occ).append((int(num), prompt_stats(correct, scores)))
    ref_stats = dict(ref_occ)
    tied_stats = dict(tied_occ)
    repeated = any(c > 1 for c in Counter(rid for rid, _, _ in rows).values())
    ref_acc = float(np.mean([s[0] for _, s in ref_occ])) if ref_occ else 0.0
    tied_acc = float(np.mean([s[0] for _, s in tied_occ])) if tied_occ else 0.0
    if repeated:  # bootstrap resample: each occurrence of a tied:N with a ref:N counts once
        pairs = [(t, ref_stats[n]) for n, t in tied_occ if n in ref_stats]
    else:  # the official iteration: set(ref) & set(tied) over per-prompt dicts in data order
        pairs = [(tied_stats[n], ref_stats[n]) for n in set(ref_stats) & set(tied_stats)]
    diff = np.array([t[1] for t, _ in pairs])
    tied_margin = np.array([t[2] for t, _ in pairs])
    ref_margin = np.array([r[2] for _, r in pairs])
    if not pairs:
        preferred = preferred_hard = margin_term = math.nan  # official: np.mean of an empty array
    else:
        if any(d is None for d in diff.tolist()):
            raise ValueError("a tied:N row needs at least two correct answers")
        preferred = float(np.mean(tied_margin > diff))
        preferred_hard = float(np.mean(np.minimum(ref_margin, tied_margin) > diff))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.tanh(np.minimum(ref_margin, tied_margin) / diff - 1)
        margin_term = float(np.mean(np.nan_to_num(ratios, nan=0.0)))
    overall = 0.30 * tied_acc + 0.30 * ref_acc + 0.20 * preferred + 0.20 * preferred_hard + 0.01 * margin_term
    return {"tied_accuracy": tied_acc, "ref_accuracy": ref_acc, "correctness_preferred": preferred,
            "correctness_preferred_hard": preferred_hard, "correctness_margin_score": margin_term,
            "n_pairs": float(len(pairs)), "score": float(overall)}
