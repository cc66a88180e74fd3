"""The item-level data of `judgebench view`: for every item of one or more runs, what the judges saw (prompt,
candidates, label) and what each said (verdict, raw output and confidence per order)."""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import JudgebenchError
from ..types import Example


def run_examples(run: Any) -> tuple[dict[tuple[str, str], Example], str | None]:
    """The examples a run judged, re-read from its task definitions and data (as in its saved config), keyed by
    (task, example id); with a note instead when they cannot be read (data moved, task file gone)."""
    from ..resolve import group_tree, load_examples
    from ..task import TaskIndex

    cfg = (run.manifest or {}).get("config") or {}
    task = cfg.get("task")
    if not task:
        return {}, f"{run.name}: no task in the run's config; prompts and candidates are not shown"
    wanted = {(it.task, it.example_id) for it in run.items}
    out: dict[tuple[str, str], Example] = {}
    try:
        for spec in group_tree(TaskIndex(cfg.get("include_paths") or []), str(task))[0]:
            if not any(t == spec.name for t, _ in wanted):
                continue
            split = cfg.get("split") or ((run.manifest.get("tasks") or {}).get(spec.name) or {}).get("split")
            examples, _, _ = load_examples(spec, split, None, bool(cfg.get("skip_invalid")))
            out.update({(spec.name, e.id): e for e in examples if (spec.name, e.id) in wanted})
    except (JudgebenchError, OSError, ValueError, KeyError, TypeError) as e:
        return out, f"{run.name}: could not re-read the task data ({str(e).splitlines()[0]}); texts may be missing"
    return out, None


def _judgments(run: Any) -> dict[tuple[str, str], list[dict[str, Any]]]:
    from ..store import RunStore

    store = RunStore(Path(run.run_dir), None)
    try:
        by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for task, j in ((t, j) for t in run.tasks for j in store.judgments(t)):
            meta = dict(j.meta)
            by[(task, j.example_id)].append({
                "order": meta.get("order"), "slot": meta.get("slot"), "attempt": meta.get("attempt", 0),
                "status": j.status, "verdict": j.verdict, "confidence": j.confidence, "text": j.text,
                "error": j.error})
        return by
    finally:
        store.close()


def _verdict_key(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def build_items(runs: Sequence[Any], labels: Sequence[str]) -> dict[str, Any]:
    """Every item of any run (the first run's order first), with each judge's result or None where a run lacks it."""
    keys: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    per_run = []
    examples: dict[tuple[str, str], Example] = {}
    notes: list[str] = []
    for run in runs:
        items = {(it.task, it.example_id): it for it in run.items}
        for k in items:
            if k not in seen:
                seen.add(k)
                keys.append(k)
        exs, note = run_examples(run)
        for k, e in exs.items():
            examples.setdefault(k, e)
        if note:
            notes.append(note)
        per_run.append((items, _judgments(run)))
    rows = []
    for k in keys:
        ex = examples.get(k)
        results = []
        for items, judgments in per_run:
            it = items.get(k)
            if it is None:
                results.append(None)
                continue
            results.append({"status": it.status, "score": it.score, "verdict": it.verdict,
                            "right": None if it.score is None else it.score >= 1,
                            "consistent": it.details.get("consistent"), "confidence": it.details.get("confidence"),
                            "judgments": judgments.get(k, [])})
        first = next(it for items, _ in per_run if (it := items.get(k)) is not None)
        verdicts = {_verdict_key(r["verdict"]) for r in results if r is not None and r["status"] in ("ok",
                                                                                                      "parse_error")}
        rows.append({"key": f"{k[0]}::{k[1]}", "task": k[0], "id": k[1], "category": first.category or "",
                     "prompt": ex.prompt if ex else None, "candidates": list(ex.candidates) if ex else None,
                     "labels": list(ex.labels) if ex else first.details.get("labels"),
                     "reference": ex.reference if ex else None, "results": results, "disagree": len(verdicts) > 1})
    return {"judges": [{"name": r.name, "label": lab, "run_dir": str(r.run_dir), "backend": r.backend}
                       for r, lab in zip(runs, labels)],
            "tasks": list(dict.fromkeys(k[0] for k in keys)), "items": rows, "notes": notes}
