"""`llmbar` loader: LLMBar's processed pairwise format — ``input``, ``output_1``, ``output_2``, ``label`` (1 or 2).

This is the format of princeton-nlp/LLMBar ``Dataset/LLMBar/{Natural,Adversarial/*}/dataset.json`` (and of other
sets released in it, e.g. the LLMBar paper's processed copies of MT-Bench, FairEval, LLMEval²); any file or
folder in this format is a task with this loader.  ``label`` names the output that follows the instruction.

YAML ``source``: ``path`` (a .json/.jsonl file or folder) and/or ``hf``; ``category`` (a constant, default: the
parent folder name, e.g. ``Natural``); ``id_prefix`` (default: the category) so that ids stay unique when several
subsets are evaluated or split together: ids are ``<prefix>/<k>``, k the 0-based row index (over all files of a
folder, in sorted file order).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from judgebench import Example

from .formats import RowLoader, SourceRows, text


class LLMBarLoader(RowLoader):
    def __init__(self, base_dir=None, path: str | None = None, hf: str | None = None, hf_split: str | None = None,
                 category: str | None = None, id_prefix: str | None = None) -> None:
        super().__init__(base_dir)
        self.src = SourceRows(self, path, hf, hf_split=hf_split, what="llmbar loader")
        default = Path(path).parent.name if path and Path(path).suffix else (Path(path).name if path else "")
        self.category = category if category is not None else default
        self.id_prefix = id_prefix if id_prefix is not None else self.category

    def to_example(self, source: str, n: int, row: dict[str, Any], k: int) -> Example | None:
        """Row ``n`` of ``source``, the ``k``-th row read (0-based, over all files of a folder)."""
        prompt = text(row, "input", source, n, self.reject)
        o1 = text(row, "output_1", source, n, self.reject, allow_empty=True)
        o2 = text(row, "output_2", source, n, self.reject, allow_empty=True)
        if prompt is None or o1 is None or o2 is None:
            return None
        label = row.get("label")
        if isinstance(label, str) and label.strip() in ("1", "2"):
            label = int(label)
        if isinstance(label, bool) or label not in (1, 2):
            return self.reject(source, n, "label", f"must be 1 or 2 (the output that follows the instruction), "
                                                   f"got {label!r}")
        rid = f"{self.id_prefix}/{k}" if self.id_prefix else str(k)
        return Example(id=rid, prompt=prompt, candidates=(o1, o2), labels=(int(label) - 1,), category=self.category)
