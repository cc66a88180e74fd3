"""Leakage-safe train/test splits of a task: seeded, stratified by category, related rows kept on one side.

Rows that belong together never straddle the split.  They are grouped by (1) identical prompt text (after
stripping whitespace), (2) RewardBench 2 Ties ids ``tied:N`` / ``ref:N`` (same N), and (3) a loader-provided
``metadata["split_group"]`` (e.g. all MT-Bench votes on one question).  Groups are assigned whole: each category
gets ``round(test_size × rows in the category)`` test rows (within one row where groups of two or more force it),
chosen from a seeded shuffle of the groups (a greedy pass, then swaps that close the remaining gaps — groups may
span categories, e.g. PandaLM's several model pairs on one instruction).

A split directory holds ``train.json`` and ``test.json`` (``{"task", "seed", "ids"}``: ``judgebench run
--ids-file DIR/test.json`` evaluates on the held-out side) and ``manifest.json`` (sizes per category, test size,
grouping rules, a hash of the data).  :func:`load_split` reads one back for tuners.
"""
from __future__ import annotations

import json
import math
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

from .errors import ConfigError
from .types import Example, stable_hash

TIES_ID = re.compile(r"^(tied|ref):(\d+)$")
RULES = ["identical prompt text (whitespace-stripped)", "RewardBench 2 ties: tied:N with ref:N",
         "metadata['split_group'] set by the loader"]
TRAIN, TEST, MANIFEST = "train.json", "test.json", "manifest.json"


def group_keys(ex: Example) -> list[str]:
    """The keys that tie this example to others (any shared key puts two examples in one group)."""
    keys = ["prompt:" + stable_hash(ex.prompt.strip())]
    m = TIES_ID.match(ex.id)
    if m:
        keys.append(f"ties:{m.group(2)}")
    g = ex.metadata.get("split_group") if ex.metadata else None
    if g is not None:
        keys.append(f"group:{g}")
    return keys


def groups_of(examples: Sequence[Example]) -> list[list[int]]:
    """Indices of examples, partitioned into groups that must stay together (union-find over shared keys)."""
    parent = list(range(len(examples)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, ex in enumerate(examples):
        for k in group_keys(ex):
            if k in owner:
                a, b = find(owner[k]), find(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[k] = i
    out: dict[int, list[int]] = defaultdict(list)
    for i in range(len(examples)):
        out[find(i)].append(i)
    return list(out.values())


def target(n: int, test_size: float) -> int:
    """Test rows wanted out of ``n`` (round half up)."""
    return int(math.floor(test_size * n + 0.5))


Vec = dict[str, int]


def _cost(gap: Vec) -> tuple[int, int]:
    """How far the test side is from its targets: (sum of |gaps|, largest |gap|)."""
    return sum(abs(v) for v in gap.values()), max((abs(v) for v in gap.values()), default=0)


def _moved(gap: Vec, add: Vec | None, remove: Vec | None) -> Vec:
    out = dict(gap)
    for vec, sign in ((add, -1), (remove, 1)):
        for c, k in (vec or {}).items():
            out[c] = out.get(c, 0) + sign * k
    return out


def _choose(vecs: list[Vec], want: Vec) -> set[int]:
    """Indices of groups (in seeded order) whose category counts sum to ``want`` or as close as moves get.

    A greedy pass takes every group that overshoots no category; then single additions, removals or swaps are
    applied while they shrink the gap (sum of |gap| first, then the largest |gap|).  Candidates are compared by
    their count vector, so the search is over distinct group shapes, not over all pairs of groups.
    """
    chosen: list[int] = []
    gap = dict(want)
    for i, v in enumerate(vecs):
        if all(gap.get(c, 0) >= k for c, k in v.items()):
            chosen.append(i)
            gap = _moved(gap, v, None)
    picked = set(chosen)
    while _cost(gap)[1] > 1:
        shapes_in: dict[tuple, int] = {}
        for i in reversed(chosen):
            if i in picked:
                shapes_in.setdefault(tuple(sorted(vecs[i].items())), i)
        shapes_out: dict[tuple, int] = {}
        for i, v in enumerate(vecs):
            if i not in picked:
                shapes_out.setdefault(tuple(sorted(v.items())), i)
        best, move = _cost(gap), None
        for out_shape, j in [(None, None), *sorted(shapes_out.items())]:
            for in_shape, i in [(None, None), *sorted(shapes_in.items())]:
                if i is None and j is None:
                    continue
                c = _cost(_moved(gap, vecs[j] if j is not None else None, vecs[i] if i is not None else None))
                if c < best:
                    best, move = c, (i, j)
        if move is None:
            break
        i, j = move
        if i is not None:
            picked.discard(i)
            gap = _moved(gap, None, vecs[i])
        if j is not None:
            picked.add(j)
            chosen.append(j)
            gap = _moved(gap, vecs[j], None)
    return picked


def make_split(examples: Sequence[Example], test_size: float = 0.16, seed: int = 0) -> tuple[list[str], list[str]]:
    """(train ids, test ids), in data order; no id and no group of related rows on both sides."""
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"test size must be between 0 and 1 (exclusive), got {test_size}")
    ids = [ex.id for ex in examples]
    dup = [i for i, c in Counter(ids).items() if c > 1]
    if dup:
        raise ConfigError(f"cannot split: duplicate example ids {dup[:5]}")
    rows_per_cat: Counter[str] = Counter(ex.category or "-" for ex in examples)
    want = {c: target(n, test_size) for c, n in rows_per_cat.items()}
    groups = sorted(groups_of(examples), key=lambda g: ids[g[0]])  # canonical order, then the seeded shuffle
    random.Random(stable_hash([seed, "split"])).shuffle(groups)
    vecs = [dict(Counter(examples[i].category or "-" for i in g)) for g in groups]
    test: set[int] = set()
    for k in _choose(vecs, want):
        test.update(groups[k])
    train_ids = [ids[i] for i in range(len(examples)) if i not in test]
    test_ids = [ids[i] for i in range(len(examples)) if i in test]
    return train_ids, test_ids


def split_manifest(task: str, examples: Sequence[Example], train_ids: Sequence[str], test_ids: Sequence[str],
                   test_size: float, seed: int, **extra: Any) -> dict[str, Any]:
    test = set(test_ids)
    per_cat: dict[str, dict[str, int]] = defaultdict(lambda: {"train": 0, "test": 0})
    for ex in examples:
        per_cat[ex.category or "-"]["test" if ex.id in test else "train"] += 1
    for cat, d in per_cat.items():
        d["target_test"] = target(d["train"] + d["test"], test_size)
    from . import __version__
    return {"judgebench_split": 1, "task": task, "seed": seed, "test_size": test_size, "n_train": len(train_ids),
            "n_test": len(test_ids), "n_groups": len(groups_of(examples)), "per_category": dict(sorted(per_cat.items())),
            "grouping": RULES, "data_hash": stable_hash(sorted(e.content_hash() for e in examples)),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "judgebench": __version__, **extra}


def write_split(out_dir: str | Path, task: str, examples: Sequence[Example], test_size: float = 0.16, seed: int = 0,
                force: bool = False, **extra: Any) -> dict[str, Any]:
    """Split ``examples`` and write the split directory; return its manifest.

    An existing split of the same task, seed, test size and data is left as is (and its manifest returned); a
    different one is refused unless ``force``.
    """
    out = Path(out_dir)
    train_ids, test_ids = make_split(examples, test_size, seed)
    manifest = split_manifest(task, examples, train_ids, test_ids, test_size, seed, **extra)
    if (out / MANIFEST).exists() and not force:
        old = load_split(out)
        same = (old["task"], old["seed"], old["manifest"].get("test_size"), old["manifest"].get("data_hash"),
                old["train"], old["test"]) == (task, seed, test_size, manifest["data_hash"], train_ids, test_ids)
        if not same:
            raise ConfigError(f"{out} already holds a different split ({old['task']}, seed {old['seed']}); "
                              f"choose another --out or pass --force to overwrite it")
        return old["manifest"]
    out.mkdir(parents=True, exist_ok=True)
    for name, side in ((TRAIN, train_ids), (TEST, test_ids)):
        (out / name).write_text(json.dumps({"task": task, "seed": seed, "ids": list(side)}, indent=1))
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def load_split(path: str | Path) -> dict[str, Any]:
    """A split directory (or its train.json / test.json) as ``{"task", "seed", "train", "test", "manifest"}``."""
    p = Path(path)
    d = p.parent if p.is_file() else p
    if not (d / TRAIN).exists() or not (d / TEST).exists():
        raise ConfigError(f"{path}: not a split directory (needs {TRAIN} and {TEST}; make one with `judgebench split`)")
    try:
        train, test = (json.loads((d / n).read_text()) for n in (TRAIN, TEST))
        manifest = json.loads((d / MANIFEST).read_text()) if (d / MANIFEST).exists() else {}
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{d}: unreadable split file: {e}") from None
    if (train.get("task"), train.get("seed")) != (test.get("task"), test.get("seed")):
        raise ConfigError(f"{d}: {TRAIN} and {TEST} belong to different splits")
    overlap = set(map(str, train["ids"])) & set(map(str, test["ids"]))
    if overlap:
        raise ConfigError(f"{d}: {len(overlap)} ids are on both sides of the split (e.g. {sorted(overlap)[:3]})")
    return {"task": train["task"], "seed": train["seed"], "train": [str(i) for i in train["ids"]],
            "test": [str(i) for i in test["ids"]], "manifest": manifest, "path": str(d)}
