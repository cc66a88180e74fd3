"""Statistics for judge comparisons: bootstrap CIs, paired differences, exact McNemar, calibration (ECE)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

CORRECT_AT = 1.0  # an item counts as "correct" for McNemar when its credit is >= this (full credit)
_EPS = 1e-9


def _array(values: Any) -> np.ndarray:
    a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float).ravel()
    return a[~np.isnan(a)]


def bootstrap_ci(values: Any, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0,
                 method: str = "BCa") -> tuple[float, float]:
    """Two-sided bootstrap CI of the mean of ``values`` (``scipy.stats.bootstrap``).

    n == 0 gives (nan, nan); a single value or constant data gives (mean, mean), since no resample
    can differ.  ``method`` is "BCa" (default) or "percentile"; when BCa is undefined (e.g. a
    degenerate jackknife) the percentile interval is used instead.
    """
    a = _array(values)
    if a.size == 0:
        return (math.nan, math.nan)
    if a.size == 1 or np.ptp(a) == 0:
        m = float(a.mean())
        return (m, m)
    for how in dict.fromkeys((method, "percentile")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sps.DegenerateDataWarning)
            res = sps.bootstrap((a,), np.mean, n_resamples=n_resamples, confidence_level=confidence,
                                method=how, vectorized=True, rng=np.random.default_rng(seed),
                                batch=max(1, 2_000_000 // a.size) if how == "BCa" else None)
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isnan(low) or math.isnan(high)):
            return (low, high)
    return (low, high)


def mean_ci(values: Any, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
            ) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of ``values`` with a bootstrap CI; mean is nan when n == 0.

    All items wrong (or all right) is where the bootstrap has nothing to resample: 0 of 150 does not mean the
    rate is surely 0, so those get the exact (Clopper-Pearson) binomial interval instead, e.g. [0, 2.4%] for n=150.
    """
    a = _array(values)
    if a.size == 0:
        return (math.nan, math.nan, math.nan, 0)
    if np.all(a == 0.0) or np.all(a == 1.0):
        k = int(a.sum())
        ci = sps.binomtest(k, int(a.size)).proportion_ci(confidence_level=confidence, method="exact")
        return (float(a.mean()), float(ci.low), float(ci.high), int(a.size))
    low, high = bootstrap_ci(a, confidence, n_resamples, seed)
    return (float(a.mean()), low, high, int(a.size))


def paired_diff_ci(a: Any, b: Any, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
                   ) -> tuple[float, float, float, int]:
    """Paired bootstrap of mean(a) - mean(b) over the same items: (diff, low, high, n).

    Items are resampled as pairs, so the CI accounts for the correlation between the two judges
    (resampling the per-item differences is exactly the paired bootstrap of a difference of means).
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.shape} vs {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    d = x[keep] - y[keep]
    if d.size == 0:
        return (math.nan, math.nan, math.nan, 0)
    low, high = bootstrap_ci(d, confidence, n_resamples, seed)
    return (float(d.mean()), low, high, int(d.size))


def dichotomize(scores: Any, at: float = CORRECT_AT) -> np.ndarray:
    """Binary correctness of item credits: True where credit >= ``at`` (default full credit, 1.0)."""
    return np.asarray(scores, dtype=float) >= at - _EPS


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test: b = items only A got right, c = items only B got right."""

    b: int
    c: int
    n: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {"b": self.b, "c": self.c, "n": self.n, "p_value": self.p_value}


def mcnemar_counts(b: int, c: int, n: int | None = None) -> McNemar:
    """Exact two-sided McNemar p-value from discordant counts: binomial test of b in b + c at p = 0.5."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    p = 1.0 if b + c == 0 else float(sps.binomtest(int(b), int(b + c), 0.5).pvalue)
    return McNemar(int(b), int(c), int(n if n is not None else b + c), p)


def mcnemar_exact(a_scores: Any, b_scores: Any, at: float = CORRECT_AT) -> McNemar:
    """Exact McNemar test on paired item credits, each dichotomised with :func:`dichotomize`."""
    x, y = dichotomize(a_scores, at), dichotomize(b_scores, at)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.shape} vs {y.shape}")
    return mcnemar_counts(int(np.sum(x & ~y)), int(np.sum(~x & y)), int(x.size))


def reliability_curve(confidences: Any, correct: Any, n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-width confidence bins on [0, 1]: per non-empty bin its range, n, mean confidence and accuracy."""
    conf = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    acc = np.asarray(correct, dtype=float)
    if conf.shape != acc.shape:
        raise ValueError("confidences and correct differ in length")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for k in range(n_bins):
        m = idx == k
        if m.any():
            out.append({"lo": float(edges[k]), "hi": float(edges[k + 1]), "n": int(m.sum()),
                        "confidence": float(conf[m].mean()), "accuracy": float(acc[m].mean())})
    return out


def ece(confidences: Any, correct: Any, n_bins: int = 10) -> float:
    """Expected calibration error: sum over bins of (n_bin / n) * |accuracy - mean confidence|."""
    curve = reliability_curve(confidences, correct, n_bins)
    n = sum(b["n"] for b in curve)
    if n == 0:
        return math.nan
    return float(sum(b["n"] / n * abs(b["accuracy"] - b["confidence"]) for b in curve))


def rate_ci(hits: Any, confidence: float = 0.95) -> dict[str, Any]:
    """A proportion (or mean credit) with n and its bootstrap CI, as a dict (rate is None when n == 0)."""
    mean, low, high, n = mean_ci(np.asarray(hits, dtype=float), confidence)
    return {"rate": None if n == 0 else mean, "ci_low": None if n == 0 else low,
            "ci_high": None if n == 0 else high, "n": n}

