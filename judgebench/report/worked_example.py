"""The worked example of docs/statistics.md: two judges at 186/297 and 183/297, CIs and exact McNemar.

``python -m judgebench.report.worked_example [--n 297 --a 186 --b 183 --discordant 3 5 11 21]`` prints it.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from ..stats import mcnemar_counts, mean_ci, paired_diff_ci

N, A_RIGHT, B_RIGHT = 297, 186, 183
DISCORDANT = (3, 5, 11, 21, 51, 101, 151, 225)


def paired_vectors(n: int, a_right: int, b_right: int, discordant: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 vectors with the given totals and b + c = ``discordant`` (b = A-only, c = B-only right)."""
    diff = a_right - b_right
    if (discordant - diff) % 2 or discordant < abs(diff):
        raise ValueError(f"b + c = {discordant} is impossible with b - c = {diff}")
    b, c = (discordant + diff) // 2, (discordant - diff) // 2
    both = a_right - b
    if both < 0 or n - both - b - c < 0:
        raise ValueError(f"b + c = {discordant} does not fit in n = {n}")
    a = np.array([1] * both + [1] * b + [0] * c + [0] * (n - both - b - c), dtype=float)
    bb = np.array([1] * both + [0] * b + [1] * c + [0] * (n - both - b - c), dtype=float)
    return a, bb


def report(n: int = N, a_right: int = A_RIGHT, b_right: int = B_RIGHT,
           discordant: Sequence[int] = DISCORDANT) -> str:
    lines = [f"n = {n}; judge A {a_right} correct, judge B {b_right} correct", "",
             "| judge | correct | accuracy % | 95% CI, bootstrap BCa (2000 resamples, seed 0) | 95% CI, exact Clopper–Pearson |",
             "|---|---|---|---|---|"]
    for name, k in (("A", a_right), ("B", b_right)):
        mean, low, high, _ = mean_ci(np.array([1.0] * k + [0.0] * (n - k)))
        cp = sps.binomtest(k, n).proportion_ci(0.95, method="exact")
        lines.append(f"| {name} | {k} | {100 * mean:.2f} | [{100 * low:.2f}, {100 * high:.2f}] | "
                     f"[{100 * cp.low:.2f}, {100 * cp.high:.2f}] |")
    lines += ["", (f"Paired comparison, A − B = {100 * (a_right - b_right) / n:.2f} points (b − c = {a_right - b_right}); "
                   "the run totals do not fix how many items the judges disagree on, so for several b + c:"), "",
              "| b + c (discordant) | b (A only) | c (B only) | exact McNemar p | A − B, 95% paired bootstrap CI (points) |",
              "|---|---|---|---|---|"]
    for d in discordant:
        try:
            xa, xb = paired_vectors(n, a_right, b_right, d)
        except ValueError:
            continue
        b, c = int(np.sum((xa == 1) & (xb == 0))), int(np.sum((xa == 0) & (xb == 1)))
        mc = mcnemar_counts(b, c, n)
        diff, low, high, _ = paired_diff_ci(xa, xb)
        lines.append(f"| {d} | {b} | {c} | {mc.p_value:.3f} | {100 * diff:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}] |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    w = argparse.ArgumentParser(prog="python -m judgebench.report.worked_example",
                                description="print the worked example of docs/statistics.md")
    w.add_argument("--n", type=int, default=N)
    w.add_argument("--a", type=int, default=A_RIGHT, help="items judge A got right")
    w.add_argument("--b", type=int, default=B_RIGHT, help="items judge B got right")
    w.add_argument("--discordant", type=int, nargs="+", default=list(DISCORDANT), help="values of b + c to show")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = w.parse_args(argv[1:] if argv[:1] == ["worked-example"] else argv)  # the older spelling still works
    sys.stdout.write(report(args.n, args.a, args.b, args.discordant) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
