"""Line up the items of several runs: same task definition and split, or an explicit, labelled intersection."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..types import ItemResult

Key = tuple[str, str]  # (task, example_id)


@dataclass
class Alignment:
    """Runs (reference first) restricted to the items every run has, in the reference's order.

    ``items[i][k]`` is run i's result for key k; ``keys`` lists the compared keys;
    ``intersected`` is True when runs disagreed and --intersect narrowed the comparison,
    with ``notes`` saying how.
    """

    runs: list[Any]
    names: list[str]
    tasks: list[str]
    keys: list[Key]
    items: list[dict[Key, ItemResult]]
    intersected: bool = False
    notes: list[str] = field(default_factory=list)

    def run_items(self, i: int, task: str | None = None, category: str | None = None) -> list[ItemResult]:
        """Run i's compared items (optionally of one task / category), in the common order."""
        ref = self.items[0]
        return [self.items[i][k] for k in self.keys
                if (task is None or k[0] == task) and (category is None or ref[k].category == category)]


def unique_names(runs: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for r in runs:
        base = r.name or str(r.run_dir)
        name, k = base, 2
        while name in names:
            name, k = f"{base}#{k}", k + 1
        names.append(name)
    return names


def align_runs(runs: Sequence[Any], intersect: bool = False) -> Alignment:
    """Check that every run judged the same task definitions (equal task hashes) and the same items.

    Without ``intersect`` any difference raises :class:`ConfigError` listing all of them.  With it,
    tasks missing from a run are dropped and the comparison keeps only items present in every run
    (and, where items carry a ``content_hash``, with identical content); each narrowing is noted.
    """
    if not runs:
        raise ConfigError("compare needs at least one run")
    names = unique_names(runs)
    ref = runs[0]
    problems: list[str] = []
    all_tasks = list(dict.fromkeys(t for r in runs for t in r.tasks))
    tasks: list[str] = []
    for t in all_tasks:
        missing = [n for n, r in zip(names, runs) if t not in r.tasks]
        if missing:
            problems.append(f"task '{t}' is not in run(s) {', '.join(missing)}")
            continue
        hashes = {n: r.tasks[t] for n, r in zip(names, runs)}
        if len(set(hashes.values())) > 1:
            detail = ", ".join(f"{n}={h}" for n, h in hashes.items())
            problems.append(f"task '{t}' was judged with different definitions/splits/data (task hash {detail})")
        tasks.append(t)
    by_run = [{(it.task, it.example_id): it for it in r.items if it.task in tasks} for r in runs]
    keys: list[Key] = []
    for k in (k for it in ref.items if (k := (it.task, it.example_id)) in by_run[0]):
        if k in keys:
            continue
        if all(k in m for m in by_run[1:]):
            keys.append(k)
    keyset = set(keys)
    for t in tasks:
        for n, m in zip(names, by_run):
            extra = sum(1 for k in m if k[0] == t and k not in keyset)
            if extra:
                problems.append(f"run {n} has {extra} item(s) of task '{t}' that another run lacks")
    changed = _content_mismatches(keys, by_run)
    if changed:
        problems.append(f"{len(changed)} item(s) have the same id but different content across runs "
                        f"(e.g. {changed[0][0]}/{changed[0][1]})")
        drop = set(changed)
        keys = [k for k in keys if k not in drop]
    if problems and not intersect:
        raise ConfigError("runs are not comparable item for item:\n  - " + "\n  - ".join(problems)
                          + "\nre-run them on the same task and split, or pass --intersect to compare only the "
                          "items they share (the report is then labelled as an intersection)")
    n_ref = len(ref.items)
    notes = list(problems)
    if problems:
        notes.append(f"INTERSECTION: compared on {len(keys)} shared item(s) "
                     f"(the reference run has {n_ref}) over task(s) {', '.join(tasks) or '(none)'}")
        tasks = [t for t in tasks if any(k[0] == t for k in keys)]
    if not keys:
        raise ConfigError("the runs share no items to compare" + (" (after --intersect)" if intersect else ""))
    return Alignment(runs=list(runs), names=names, tasks=tasks, keys=keys,
                     items=[{k: m[k] for k in keys} for m in by_run], intersected=bool(problems), notes=notes)


def _content_mismatches(keys: list[Key], by_run: list[dict[Key, ItemResult]]) -> list[Key]:
    out = []
    for k in keys:
        hashes = {m[k].details.get("content_hash") for m in by_run} - {None}
        if len(hashes) > 1:
            out.append(k)
    return out
