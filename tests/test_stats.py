"""judgebench.stats: bootstrap CIs (edge cases, coverage), exact McNemar, ECE, the documented worked example."""
from __future__ import annotations

import math
import subprocess
import sys
from itertools import product

import numpy as np
import pytest
from scipy.stats import binomtest

from judgebench.stats import (
    bootstrap_ci,
    dichotomize,
    ece,
    mcnemar_counts,
    mcnemar_exact,
    mean_ci,
    paired_diff_ci,
    rate_ci,
    reliability_curve,
)


def test_bootstrap_ci_edge_cases():
    assert all(math.isnan(x) for x in bootstrap_ci([]))
    assert bootstrap_ci([0.4]) == (0.4, 0.4)
    assert bootstrap_ci(np.ones(50)) == (1.0, 1.0)
    assert bootstrap_ci([0.0] * 7) == (0.0, 0.0)
    m, lo, _hi, n = mean_ci([])
    assert n == 0 and math.isnan(m) and math.isnan(lo)
    assert rate_ci([]) == {"rate": None, "ci_low": None, "ci_high": None, "n": 0}


def test_all_wrong_or_all_right_gets_the_exact_binomial_interval():
    """0 of 150 correct: the bootstrap can only say [0, 0]; the exact interval is [0, 1 - 0.025^(1/150)]."""
    m, lo, hi, n = mean_ci([0.0] * 150)
    assert (m, lo, n) == (0.0, 0.0, 150)
    assert hi == pytest.approx(1 - 0.025 ** (1 / 150))
    m, lo, hi, n = mean_ci([1.0] * 40)
    assert (m, hi, n) == (1.0, 1.0, 40)
    assert lo == pytest.approx(0.025 ** (1 / 40))


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_bootstrap_ci_brackets_the_mean_and_is_reproducible(method):
    x = np.array([1.0] * 60 + [0.0] * 40)
    lo, hi = bootstrap_ci(x, method=method)
    assert lo < 0.6 < hi and 0.45 < lo and hi < 0.75
    assert bootstrap_ci(x, method=method) == (lo, hi)  # seeded
    assert bootstrap_ci(x, seed=1, method=method) != (lo, hi)
    lo90, hi90 = bootstrap_ci(x, confidence=0.90, method=method)
    assert lo <= lo90 and hi90 <= hi


@pytest.mark.parametrize("p,n", [(0.7, 200), (0.5, 60)])
def test_bootstrap_ci_covers_the_true_rate_at_about_the_nominal_frequency(p, n):
    rng = np.random.default_rng(12345)
    hits = 0
    sims = 200
    for s in range(sims):
        x = (rng.random(n) < p).astype(float)
        lo, hi = bootstrap_ci(x, seed=s)
        hits += lo <= p <= hi
    assert 0.90 <= hits / sims <= 0.99, hits / sims


def test_paired_diff_ci_covers_the_true_difference():
    # joint law of (A right, B right): P(1,1)=.55 P(1,0)=.15 P(0,1)=.05 P(0,0)=.25 -> true A - B = 0.10
    cells = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=float)
    rng = np.random.default_rng(7)
    hits = 0
    for s in range(200):
        draw = cells[rng.choice(4, size=150, p=[0.55, 0.15, 0.05, 0.25])]
        d, lo, hi, n = paired_diff_ci(draw[:, 0], draw[:, 1], seed=s)
        assert n == 150 and lo <= d <= hi
        hits += lo <= 0.10 <= hi
    assert 0.90 <= hits / 200 <= 0.99


def test_paired_diff_ci_rejects_unequal_lengths():
    with pytest.raises(ValueError):
        paired_diff_ci([1, 0], [1])


def test_mcnemar_hand_values():
    assert mcnemar_counts(3, 0).p_value == pytest.approx(0.25)  # 2 * (1/2)^3
    # b=10, c=2: 2 * (C(12,0)+C(12,1)+C(12,2)) / 2^12 = 2 * 79 / 4096
    assert mcnemar_counts(10, 2).p_value == pytest.approx(158 / 4096)
    assert mcnemar_counts(0, 0).p_value == 1.0
    assert mcnemar_counts(5, 5).p_value == 1.0
    with pytest.raises(ValueError):
        mcnemar_counts(-1, 2)


def test_mcnemar_matches_scipy_exact_binomial_on_discordant_pairs():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(5, 300))
        a = (rng.random(n) < rng.uniform(0.2, 0.9)).astype(float)
        b = np.where(rng.random(n) < 0.7, a, 1 - a)
        res = mcnemar_exact(a, b)
        only_a = int(np.sum((a == 1) & (b == 0)))
        only_b = int(np.sum((a == 0) & (b == 1)))
        assert (res.b, res.c, res.n) == (only_a, only_b, n)
        expected = 1.0 if only_a + only_b == 0 else binomtest(only_a, only_a + only_b, 0.5).pvalue
        assert res.p_value == pytest.approx(expected, rel=1e-12)


def test_fractional_credit_is_dichotomised_at_full_credit():
    assert dichotomize([1.0, 0.999999999999, 0.5, 0.0]).tolist() == [True, True, False, False]
    res = mcnemar_exact([1.0, 0.5, 0.5, 1.0], [0.5, 1.0, 0.0, 1.0])
    assert (res.b, res.c) == (1, 1)  # 0.5 counts as not correct; (0.5, 0.0) is concordant
    assert mcnemar_exact([0.5, 0.5], [0.0, 0.0], at=0.5).b == 2


def test_ece_and_reliability_curve_hand_count():
    conf = [0.95, 0.91, 0.62, 0.65, 0.15]
    right = [1, 0, 1, 1, 0]
    curve = reliability_curve(conf, right, n_bins=10)
    assert [(c["lo"], c["n"]) for c in curve] == [(pytest.approx(0.1), 1), (pytest.approx(0.6), 2), (pytest.approx(0.9), 2)]
    # |0 - .15|*1/5 + |1 - .635|*2/5 + |.5 - .93|*2/5
    assert ece(conf, right) == pytest.approx(0.15 / 5 + 0.365 * 2 / 5 + 0.43 * 2 / 5)
    assert ece([1.0, 1.0], [1, 1]) == 0.0
    assert math.isnan(ece([], []))


def test_worked_example_command_reproduces_the_docs():
    out = subprocess.run([sys.executable, "-m", "judgebench.report.worked_example"], capture_output=True, text=True,
                         check=True).stdout
    assert "| A | 186 | 62.63 |" in out and "| B | 183 | 61.62 |" in out
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ") and line.count("|") == 6
            and line.split("|")[1].strip().isdigit()]
    assert len(rows) >= 5
    for r in rows:
        b, c, p = int(r[2]), int(r[3]), float(r[4])
        assert b - c == 3
        assert p == pytest.approx(binomtest(b, b + c, 0.5).pvalue, abs=5e-4)
        assert p > 0.2  # a 1-point gap on 297 items is nowhere near significant
    # the exact Clopper-Pearson interval printed next to the bootstrap one
    cp = binomtest(186, 297).proportion_ci(method="exact")
    assert f"[{100 * cp.low:.2f}, {100 * cp.high:.2f}]" in out


def test_docs_statistics_contains_the_current_worked_example_output():
    from pathlib import Path

    from judgebench.report.worked_example import report

    doc = (Path(__file__).resolve().parents[1] / "docs" / "statistics.md").read_text()
    for line in report().splitlines():
        if line.startswith("| ") and any(ch.isdigit() for ch in line):
            assert line in doc, f"docs/statistics.md is out of date; missing: {line}"


@pytest.mark.parametrize("k,n", list(product([0, 3, 9], [10])))
def test_rate_ci_counts(k, n):
    r = rate_ci([True] * k + [False] * (n - k))
    assert r["n"] == n and r["rate"] == pytest.approx(k / n)
    assert r["ci_low"] <= r["rate"] <= r["ci_high"]
