"""``--sample N``: a seeded sample of N examples per task, stratified by category (``--limit N`` keeps the first N
in file order, which on a file sorted by source or category keeps only a few categories)."""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

from .types import stable_hash

T = TypeVar("T")


def quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Split ``n`` across categories in proportion to their sizes (largest remainder; ties: larger, then first)."""
    total = sum(sizes.values())
    exact = {c: n * s / total for c, s in sizes.items()}
    out = {c: int(x) for c, x in exact.items()}
    order = sorted(sizes, key=lambda c: (-(exact[c] - out[c]), -sizes[c], list(sizes).index(c)))
    for c in order[:n - sum(out.values())]:
        out[c] += 1
    return out


def stratified_sample(examples: Sequence[T], n: int, seed: int, salt: str = "",
                      category: str = "category") -> list[T]:
    """``n`` of ``examples`` (all of them when there are no more), each category represented in proportion to
    its size, chosen by a generator seeded with ``seed`` and ``salt`` (the task name); file order is kept."""
    if n >= len(examples):
        return list(examples)
    by_cat: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        by_cat.setdefault(str(getattr(e, category, "") or ""), []).append(i)
    rng = random.Random(int(stable_hash(["sample", seed, salt], 16), 16))
    chosen: list[int] = []
    for cat, k in quotas({c: len(ix) for c, ix in by_cat.items()}, n).items():
        chosen.extend(rng.sample(by_cat[cat], k))
    return [examples[i] for i in sorted(chosen)]
