"""Write a judgebench task as an lm-evaluation-harness task: one multiple-choice doc per judge request.

Each request of the task's protocol (e.g. both orders of a pairwise item, or RewardBench 2's four-answer prompt with
its seeded placement) becomes one doc: ``text`` is the judge prompt exactly as judgebench renders it (the system
message, if any, above the user message, then the answer prefix), ``choices`` the verdict strings ("A", "B", …) and
``gold`` the index of the correct one.  lm-eval scores a doc by the log-likelihood of each choice after the text, so
its ``acc`` is per-request accuracy: it does not combine both orders into one verdict the way judgebench's pairwise
protocol does (use ``judgebench run`` for that).  Requests without exactly one correct choice (a tie label where the
prompt offers no tie verdict; rating prompts) cannot be written and are counted, never silently dropped.

No lm-eval import is needed to write the files.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import yaml

from judgebench import TIE, ConfigError
from judgebench.plugin import resolve_tasks

LM_EVAL_NAME = re.compile(r"[^A-Za-z0-9_]+")


def lm_eval_task_name(task: str, prefix: str = "judgebench") -> str:
    return f"{prefix}_{LM_EVAL_NAME.sub('_', task).strip('_')}"


def render_text(req: Any) -> str:
    parts = [m.content for m in req.messages if m.role == "system"] + \
            [m.content for m in req.messages if m.role != "system"]
    return "\n\n".join(parts) + ("\n\n" + req.answer_prefix if req.answer_prefix else "\n\n")


def request_docs(task: Any) -> tuple[list[dict[str, Any]], Counter]:
    """(docs, counts of requests left out by reason) for one prepared leaf task."""
    docs: list[dict[str, Any]] = []
    left_out: Counter = Counter()
    proto = task.protocol
    for ex in task.examples:
        for req in proto.expand(ex):
            if req.choices and all(c.isdigit() for c in req.choices):
                left_out["rating prompt (no single correct choice)"] += 1
                continue
            right = []
            for c in req.choices:
                v = proto.choice_to_verdict(req, c)
                if (v == TIE and ex.is_tie) or (v != TIE and v in ex.labels and not ex.is_tie):
                    right.append(c)
            if len(right) != 1:
                left_out["tie label without a tie verdict" if ex.is_tie else "no single correct choice"] += 1
                continue
            docs.append({"id": f"{ex.id}#{req.meta.get('slot')}", "example_id": ex.id, "category": ex.category or "",
                         "text": render_text(req), "choices": list(req.choices),
                         "gold": list(req.choices).index(right[0])})
    return docs, left_out


def export_task(task: str, out: Path, *, split: str | None = None, seed: int = 0, limit: int | None = None,
                include_paths: Sequence[str] = (), ids: Sequence[str] | None = None,
                prefix: str = "judgebench") -> dict[str, Any]:
    """Write ``<name>.jsonl`` and ``<name>.yaml`` for every leaf task (and a group YAML for a group) into ``out``;
    returns a manifest (tasks, docs, requests left out by reason)."""
    tasks = resolve_tasks(task, split=split, seed=seed, limit=limit, include_paths=include_paths, ids=ids).tasks
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"task": task, "seed": seed, "split": split, "tasks": {}}
    names = []
    for t in tasks:
        docs, left_out = request_docs(t)
        if not docs:
            raise ConfigError(f"task {t.name}: no request has exactly one correct choice "
                              f"({dict(left_out)}); lm-eval's multiple-choice format cannot express it")
        name = lm_eval_task_name(t.name, prefix)
        data = out / f"{name}.jsonl"
        data.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
        # the docs are read by DOCS_MODULE next to the YAML, by a path relative to it: the folder can be moved
        cfg = {"task": name, "dataset_path": "json", "dataset_kwargs": {"data_file": data.name},
               "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "text",
               "doc_to_choice": "choices", "doc_to_target": "gold", "target_delimiter": "",
               "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
               "metadata": {"version": 1, "judgebench_task": t.name, "protocol": t.spec.protocol, "seed": seed}}
        (out / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
                                          + f"custom_dataset: !function {DOCS_MODULE}.load\n")
        names.append(name)
        manifest["tasks"][name] = {"judgebench_task": t.name, "docs": len(docs), "examples": len(t.examples),
                                   "left_out": dict(left_out)}
    if len(names) > 1:
        group = lm_eval_task_name(task, prefix)
        (out / f"{group}.yaml").write_text(yaml.safe_dump(
            {"group": group, "task": names, "aggregate_metric_list": [
                {"metric": "acc", "aggregation": "mean", "weight_by_size": False}], "metadata": {"version": 1}},
            sort_keys=False))
        manifest["group"] = group
    (out / f"{DOCS_MODULE}.py").write_text(DOCS_LOADER)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


DOCS_MODULE = "judgebench_docs"
#: written next to the exported YAML files; lm-eval resolves ``!function`` relative to the YAML's folder
DOCS_LOADER = '''"""Reads an exported judgebench task's docs from the JSONL file beside this module (written by
`judgebench export-lm-eval`; lm-eval calls load() through the tasks' `custom_dataset: !function`)."""
import json
from pathlib import Path


def load(data_file, **_):
    import datasets

    rows = [json.loads(line) for line in (Path(__file__).parent / data_file).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
'''
