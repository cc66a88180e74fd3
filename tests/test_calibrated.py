"""Balanced position calibration (Wang et al. 2023): decide a pair from both orders together — on hand-made margins."""
from __future__ import annotations

import pytest

from judgebench import TIE, Completion, ConfigError, Example
from judgebench.protocols import PairwiseProtocol, calibrated_verdict
from judgebench.task import TaskSpec

EX = Example(id="e1", prompt="2+2?", candidates=("4", "5"), labels=(0,), category="math")
TIE_EX = Example(id="t1", prompt="same?", candidates=("x", "x."), labels=(0, 1), category="tie")


def judged(ex, logprobs, allow_tie=False, aggregate=None, mode="choice"):
    opts = {"orders": "both", "allow_tie": allow_tie, **({"aggregate": aggregate} if aggregate else {})}
    p = PairwiseProtocol(TaskSpec(name="t", protocol_options=opts), mode=mode)
    reqs = p.expand(ex)  # order [0, 1] then [1, 0]
    js = [p.parse(r, Completion(choice_logprobs=lp) if mode == "choice" else Completion(text=lp))
          for r, lp in zip(reqs, logprobs)]
    return p.score(ex, js)


@pytest.mark.parametrize("lps,strict,calibrated", [
    # order 1 shows candidate 0 as A, order 2 shows it as B
    # a judge that always prefers A, by 2.0 nats, but by less when candidate 1 is shown first: margins 2.0 and -1.0
    # for candidate 0 -> summed margin +1.0 -> candidate 0 (right), although the strict rule sees "A, A": inconsistent
    ([{"A": -0.1, "B": -2.1}, {"A": -0.5, "B": -1.5}], 0.0, 1.0),
    # the reverse: margins for candidate 0 are +0.5 and -2.0 -> summed -1.5 -> candidate 1 (wrong)
    ([{"A": -0.7, "B": -1.2}, {"A": -0.1, "B": -2.1}], 0.0, 0.0),
    # both orders agree on candidate 0: strict and calibrated agree
    ([{"A": -0.1, "B": -3.0}, {"A": -3.0, "B": -0.1}], 1.0, 1.0),
])
def test_calibrated_sums_the_margins_of_both_orders(lps, strict, calibrated):
    res = judged(EX, lps)
    assert res.score == strict  # the strict rule stays the item's score by default
    assert res.details["strict"]["score"] == strict
    assert res.details["calibrated"]["score"] == calibrated


def test_unnormalised_logprobs_give_the_same_decision_and_exact_balance_is_not_a_win():
    res = judged(EX, [{"A": -10.1, "B": -12.1}, {"A": -0.5, "B": -1.5}])  # order-1 margin still +2.0
    assert res.details["calibrated"]["verdict"] == 0
    res = judged(EX, [{"A": -1.0, "B": -2.0}, {"A": -1.0, "B": -2.0}])  # +1 and -1: exactly balanced
    assert res.details["calibrated"]["verdict"] == "inconsistent" and res.details["calibrated"]["score"] == 0.0


def test_ties_only_where_the_task_allows_them():
    # both orders put most mass on C (tie)
    lps = [{"A": -2.0, "B": -2.0, "C": -0.3}, {"A": -2.0, "B": -2.0, "C": -0.3}]
    assert judged(TIE_EX, lps, allow_tie=True).details["calibrated"]["verdict"] == TIE
    assert judged(TIE_EX, lps, allow_tie=True).details["calibrated"]["score"] == 1.0
    balanced = [{"A": -1.0, "B": -2.0}, {"A": -1.0, "B": -2.0}]
    assert calibrated_verdict([], allow_tie=False) is None
    assert judged(EX, balanced).details["calibrated"]["verdict"] == "inconsistent"


def test_generate_mode_uses_the_mean_of_the_two_orders_votes():
    assert judged(EX, ["A", "B"], mode="generate").details["calibrated"]["verdict"] == 0   # both pick candidate 0
    assert judged(EX, ["A", "A"], mode="generate").details["calibrated"]["verdict"] == "inconsistent"
    assert judged(EX, ["A", "A"], allow_tie=True, mode="generate").details["calibrated"]["verdict"] == TIE
    assert judged(EX, ["A", "C"], allow_tie=True, mode="generate").details["calibrated"]["verdict"] == 0


def test_aggregate_calibrated_makes_it_the_item_score_but_never_for_a_fixed_rule_benchmark():
    res = judged(EX, [{"A": -0.1, "B": -2.1}, {"A": -0.5, "B": -1.5}], aggregate="calibrated")
    assert res.score == 1.0 and res.details["strict"]["score"] == 0.0
    with pytest.raises(ConfigError, match="fixes the scoring rule"):
        PairwiseProtocol(TaskSpec(name="rewardbench2-pairwise", protocol_options={"aggregate": "calibrated"}))
    with pytest.raises(ConfigError, match="aggregate must be one of"):
        PairwiseProtocol(TaskSpec(name="t", protocol_options={"aggregate": "mean"}))
