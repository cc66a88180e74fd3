"""`ab-label` loader: JudgeBench's format (ScalerLab/JudgeBench) — ``question``, ``response_A``, ``response_B`` and
``label`` "A>B" / "B>A" (also "A=B" as a tie), one row per response pair.

Rows also carry ``pair_id`` (the id; default: the row index), ``source`` (the category, e.g.
``mmlu-pro-computer science``, ``livebench-reasoning``, ``livecodebench``), ``original_id`` and ``response_model``
(kept as metadata).  The hub dataset has the splits ``gpt`` (350 pairs by GPT-4o) and ``claude`` (270 by
Claude-3.5-Sonnet).  Field names can be remapped with ``fields`` for other sets written the same way.

YAML ``source``: ``path`` (.jsonl/.json/.parquet file or folder) and/or ``hf`` (``ScalerLab/JudgeBench``) with
``hf_split``; ``fields`` (a mapping from question/response_a/response_b/label/id/category to column names).
"""
from __future__ import annotations

from typing import Any

from judgebench import ConfigError, Example

from .formats import RowLoader, SourceRows, text

DEFAULT_FIELDS = {"question": "question", "response_a": "response_A", "response_b": "response_B", "label": "label",
                  "id": "pair_id", "category": "source"}
LABELS = {"A>B": (0,), "B>A": (1,), "A=B": (0, 1)}


class ABLabelLoader(RowLoader):
    def __init__(self, base_dir=None, path: str | None = None, hf: str | None = None, hf_split: str | None = None,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(base_dir)
        unknown = set(fields or {}) - set(DEFAULT_FIELDS)
        if unknown:
            raise ConfigError(f"ab-label loader: unknown fields {sorted(unknown)}; allowed: {sorted(DEFAULT_FIELDS)}")
        self.fields = {**DEFAULT_FIELDS, **(fields or {})}
        self.src = SourceRows(self, path, hf, hf_split=hf_split, what="ab-label loader")

    def to_example(self, source: str, n: int, row: dict[str, Any], k: int) -> Example | None:
        f = self.fields
        q = text(row, f["question"], source, n, self.reject)
        a = text(row, f["response_a"], source, n, self.reject, allow_empty=True)
        b = text(row, f["response_b"], source, n, self.reject, allow_empty=True)
        if q is None or a is None or b is None:
            return None
        raw = row.get(f["label"])
        label = str(raw).replace(" ", "") if raw is not None else None
        if label not in LABELS:
            return self.reject(source, n, f["label"], f"must be 'A>B', 'B>A' or 'A=B', got {raw!r}")
        rid = row.get(f["id"])
        meta = {k2: row[k2] for k2 in ("original_id", "response_model") if k2 in row}
        return Example(id=str(rid) if rid not in (None, "") else str(k), prompt=q, candidates=(a, b),
                       labels=LABELS[label], category=str(row.get(f["category"]) or ""), metadata=meta)
