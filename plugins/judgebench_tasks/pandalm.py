"""`pandalm` loader: the PandaLM human-annotated test set (WeOpenML/PandaLM ``data/testset-v1.json``).

Each row has ``instruction``, ``input``, ``response1``, ``response2`` and three annotators' labels
(0 = tie, 1 = response1 better, 2 = response2 better).  The label is the **majority** of the three.  A tie
majority is kept as its own class: the example's labels are both candidates (a pairwise tie), so only a "tie"
verdict scores, and its category is ``tie`` — the tie accuracy is reported on its own row.

No majority (the three annotators gave 0, 1 and 2): ``no_majority`` decides — ``tie`` (default: one annotator saw
a tie and the other two cancel out, so there is no preferred response), ``drop`` (recorded in the run manifest as a
skipped row) or ``error``.  The released test set has no such row (it is checked by a test), so the default only
matters for other exports in this format.

Six responses of the released file are JSON ``true`` (the model answered "True" and the export turned the text into
a boolean); a boolean or number response is read back as its text (``True``, ``False``, ``42``) and the row's
metadata lists the field under ``coerced``.  Empty responses (54 in the file) are kept: a model that answered
nothing is a real candidate.

YAML ``source``: ``path`` (the JSON file) and/or ``hf`` (a dataset with the same columns), ``no_majority``.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

from judgebench import ConfigError, Example, TaskLoader

from .formats import SourceRows, text

CLASSES = {0: "tie", 1: "response1", 2: "response2"}
LABELS = {0: (0, 1), 1: (0,), 2: (1,)}


def majority(votes: list[int]) -> int | None:
    """The label given by at least two of the annotators, or None."""
    label, count = Counter(votes).most_common(1)[0]
    return label if count * 2 > len(votes) else None


def pandalm_prompt(instruction: str, inp: str) -> str:
    """The instruction, followed by its input when it has one."""
    if not instruction.strip():  # one row of the released file has a blank instruction and only an input
        return inp.strip()
    return f"{instruction}\n\n{inp}" if inp.strip() else instruction


class PandaLMLoader(TaskLoader):
    def __init__(self, base_dir=None, path: str | None = None, hf: str | None = None, hf_split: str | None = None,
                 annotators: tuple[str, ...] | list[str] = ("annotator1", "annotator2", "annotator3"),
                 no_majority: str = "tie") -> None:
        super().__init__(base_dir)
        if no_majority not in ("tie", "drop", "error"):
            raise ConfigError(f"pandalm loader: no_majority must be tie, drop or error, not {no_majority!r}")
        self.src = SourceRows(self, path, hf, hf_split=hf_split, what="pandalm loader")
        self.annotators, self.no_majority = list(annotators), no_majority

    def load(self, split: str) -> Iterator[Example]:
        for source, n, row in self.src.rows(split):
            ex = self.to_example(source, n, row)
            if ex is not None:
                yield ex

    def to_example(self, source: str, n: int, row: dict[str, Any]) -> Example | None:
        coerced = [k for k in ("response1", "response2") if isinstance(row.get(k), (bool, int, float))]
        if coerced:
            row = {**row, **{k: str(row[k]) for k in coerced}}
        instruction = text(row, "instruction", source, n, self.reject, allow_empty=True)
        inp = row.get("input") or ""
        r1 = text(row, "response1", source, n, self.reject, allow_empty=True)
        r2 = text(row, "response2", source, n, self.reject, allow_empty=True)
        if instruction is None or r1 is None or r2 is None:
            return None
        if not isinstance(inp, str):
            return self.reject(source, n, "input", f"expected text, got {type(inp).__name__}")
        if not instruction.strip() and not inp.strip():
            return self.reject(source, n, "instruction", "empty instruction and empty input")
        votes = []
        for a in self.annotators:
            v = row.get(a)
            if isinstance(v, bool) or v not in CLASSES:
                return self.reject(source, n, a, f"annotator label must be 0 (tie), 1 or 2, got {v!r}")
            votes.append(int(v))
        label = majority(votes)
        if label is None:
            if self.no_majority == "error":
                return self.reject(source, n, "annotators", f"no majority among {votes}")
            if self.no_majority == "drop":
                self.skipped.append({"source": source, "row": n, "field": "annotators",
                                     "message": f"no majority among {votes} (no_majority: drop)"})
                return None
            label = 0
        rid = row.get("idx", n - 1)
        return Example(id=str(rid), prompt=pandalm_prompt(instruction, inp), candidates=(r1, r2),
                       labels=LABELS[label], category=CLASSES[label],
                       metadata={"votes": votes, "cmp_key": row.get("cmp_key"),
                                 "motivation_app": row.get("motivation_app"),
                                 "unanimous": len(set(votes)) == 1, "no_majority": majority(votes) is None,
                                 "coerced": coerced})
