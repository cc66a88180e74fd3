"""Position, length and calibration statistics equal hand counts on hand-built items."""
from __future__ import annotations

import pytest

from judgebench.report.bias import (
    calibration_stats,
    length_stats,
    position_stats,
    shown_candidates,
)
from judgebench.types import ItemResult


def pick(n, picked_pos, correct, cand, order=None):
    p = {"n_positions": n, "picked_position": picked_pos, "correct_positions": correct, "picked_candidate": cand}
    if order is not None:
        p["order"] = order
    return p


@pytest.fixture
def items():
    return [
        # pairwise, both orders, consistent and right; the correct answer is the shorter one
        ItemResult("i1", "c", "ok", 1.0, 0, {"lengths": [10, 20], "labels": [0], "consistent": True, "confidence": 0.9,
                                            "picks": [pick(2, 0, [0], 0), pick(2, 1, [1], 0)]}, "t"),
        # pairwise, inconsistent (always picks position 1); correct is shorter
        ItemResult("i2", "c", "ok", 0.0, "inconsistent", {"lengths": [30, 5], "labels": [1], "consistent": False,
                                                          "confidence": 0.8,
                                                          "picks": [pick(2, 0, [1], 0), pick(2, 0, [0], 1)]}, "t"),
        # equal lengths; second judgment unparsable
        ItemResult("i3", "c", "parse_error", 0.0, None, {"lengths": [8, 8], "labels": [0], "confidence": 0.7,
                                                         "picks": [pick(2, 0, [0], 0), pick(2, None, [1], None)]}, "t"),
        # best of 3 shown in order [1, 2, 0]; picks the longest (wrong)
        ItemResult("i4", "d", "ok", 0.0, 1, {"lengths": [5, 50, 7], "labels": [2], "consistent": None,
                                            "picks": [pick(3, 0, [1], 1, order=[1, 2, 0])]}, "t"),
        # a pair out of four candidates without an order: which two were shown is unknown
        ItemResult("i5", "d", "ok", 1.0, 0, {"lengths": [1, 2, 3, 4], "labels": [0],
                                            "picks": [pick(2, 0, [0], 0)]}, "t"),
        ItemResult("i6", "d", "excluded", None, None, {"lengths": [1, 9], "labels": [0], "picks": []}, "t"),
    ]


def test_position_stats_hand_counts(items):
    s = position_stats(items)
    assert s["swap_consistency"]["rate"] == pytest.approx(1 / 2) and s["swap_consistency"]["n"] == 2
    k2, k3 = s["by_k"]
    assert (k2["n_positions"], k2["judgments"], k2["parsed"]) == (2, 7, 6)
    p0, p1 = k2["positions"]
    # parsed k=2 picks at position 0: i1a, i2a, i2b, i3a, i5 = 5 of 6
    assert p0["pick_rate"]["rate"] == pytest.approx(5 / 6) and p0["pick_rate"]["n"] == 6
    assert p1["pick_rate"]["rate"] == pytest.approx(1 / 6)
    # correct answer at position 0 among parsed: i1a, i2b, i3a, i5 = 4 of 6
    assert p0["correct_share"] == pytest.approx(4 / 6)
    # correct at 0 (single correct): i1a ok, i2b ok, i3a ok, i5 ok = 4/4; at 1: i1b ok, i2a wrong, i3b unparsed = 1/3
    assert p0["accuracy_when_correct_here"]["rate"] == 1.0 and p0["accuracy_when_correct_here"]["n"] == 4
    assert p1["accuracy_when_correct_here"]["rate"] == pytest.approx(1 / 3)
    assert k3["n_positions"] == 3 and k3["positions"][0]["pick_rate"]["rate"] == 1.0
    assert k3["positions"][1]["accuracy_when_correct_here"] == {"rate": 0.0, "ci_low": 0.0, "ci_high": pytest.approx(0.975), "n": 1}
    assert k3["positions"][2]["accuracy_when_correct_here"]["n"] == 0


def test_length_stats_hand_counts(items):
    s = length_stats(items)
    # decisive picks with a unique longest shown answer: i1a F, i1b F, i2a T, i2b F, i4 T (i3: equal lengths)
    assert s["prefer_longer"]["rate"] == pytest.approx(2 / 5) and s["prefer_longer"]["n"] == 5
    assert s["chance"] == pytest.approx((4 * 0.5 + 1 / 3) / 5)
    # correct strictly shorter than every wrong one: i1 (1.0), i2 (0.0); i4 is mixed, i3 equal, i6 unscored
    assert s["correct_shorter"]["rate"] == pytest.approx(0.5) and s["correct_shorter"]["n"] == 2
    assert s["correct_longer"]["n"] == 0 and s["correct_longer"]["rate"] is None
    assert s["unknown_shown"] == 1


def test_shown_candidates():
    assert shown_candidates({"n_positions": 2, "order": [3, 1]}, 4) == [3, 1]
    assert shown_candidates({"n_positions": 3}, 3) == [0, 1, 2]
    assert shown_candidates({"n_positions": 2}, 4) is None


def test_calibration_hand_count(items):
    c = calibration_stats(items)
    assert c["n"] == 2  # i3 is a parse error: its confidence does not count
    assert c["ece"] == pytest.approx(0.5 * (1 - 0.9) + 0.5 * 0.8)
    assert c["accuracy"] == 0.5 and c["mean_confidence"] == pytest.approx(0.85)
    assert [b["n"] for b in c["curve"]] == [1, 1]
    assert calibration_stats([it for it in items if it.details.get("confidence") is None]) is None
