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
    differ: dict[str, list[str]] = {}
    for t in all_tasks:
        missing = [n for n, r in zip(names, runs) if t not in r.tasks]
        if missing:
            problems.append(f"task '{t}' is not in run(s) {', '.join(missing)}")
            continue
        hashes = {n: r.tasks[t] for n, r in zip(names, runs)}
        if len(set(hashes.values())) > 1:
            differ.setdefault(differing_fields(t, names, runs), []).append(t)
        tasks.append(t)
    for why, ts in differ.items():  # one line per reason, not one per task of a group
        which = f"task '{ts[0]}'" if len(ts) == 1 else f"{len(ts)} tasks ({', '.join(ts)})"
        problems.append(f"{which} judged with different {why}")
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


#: what makes a task's judged items differ between runs: run settings (config.yaml) and the task as loaded
RUN_FIELDS = ("limit", "sample", "seed", "mode", "split", "ids_file")
TASK_FIELDS = (("split", "split"), ("n_examples", "number of examples"), ("protocol", "protocol"),
               ("data_hash", "data (dataset hash)"))


def differing_fields(task: str, names: Sequence[str], runs: Sequence[Any]) -> str:
    """Which definition fields differ for ``task`` across runs, e.g. ``limit (run_a: 50, run_b: 100)``."""
    out = []
    for key in RUN_FIELDS:
        vals = [((r.manifest or {}).get("config") or {}).get(key) for r in runs]
        if len({repr(v) for v in vals}) > 1:
            out.append(f"{key} (" + ", ".join(f"{n}: {v}" for n, v in zip(names, vals)) + ")")
    for key, label in TASK_FIELDS:
        vals = [(((r.manifest or {}).get("tasks") or {}).get(task) or {}).get(key) for r in runs]
        if len({repr(v) for v in vals}) > 1 and not (key in ("n_examples", "data_hash") and out):
            shown = ", ".join(f"{n}: {str(v)[:12]}" for n, v in zip(names, vals))
            out.append(f"{label} ({shown})")
    if not out:
        return "definitions (the task's YAML: templates, protocol options or loader settings)"
    return "definitions: " + "; ".join(out)


def _content_mismatches(keys: list[Key], by_run: list[dict[Key, ItemResult]]) -> list[Key]:
    out = []
    for k in keys:
        hashes = {m[k].details.get("content_hash") for m in by_run} - {None}
        if len(hashes) > 1:
            out.append(k)
    return out
