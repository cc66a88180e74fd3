"""`rewardbench2` loader: RewardBench 2 (allenai/reward-bench-2) from the hub, a local parquet/JSONL export or a folder.

Every row is validated against the published schema: ``id`` is a string (kept as is: "0" never becomes 0),
``prompt`` text, ``chosen`` and ``rejected`` non-empty lists of text with ``num_correct == len(chosen)``,
``num_incorrect == len(rejected)`` and ``total_completions`` their sum, ``subset`` one of the six categories, and
Ties ids of the form ``tied:N`` (two or more correct answers) or ``ref:N`` (exactly one).

YAML ``source`` options::

  path: ${JUDGEBENCH_DATA_DIR:-data}/rewardbench2   # a file or a folder of .jsonl/.json/.parquet files; or/and
  hf: allenai/reward-bench-2                        # the hub dataset (used when ``path`` does not exist)
  hf_split: test                                    # default: test (the only split on the hub)
  subset: Factuality                                # keep one category (or a list); default: all rows
  require_rows: true                                # an empty selection is an error (default true)

An example's candidates are ``chosen + rejected`` and its labels the indices of ``chosen``; ``category`` is the
subset.  Ties rows carry ``metadata["split_group"] = "ties:N"`` so that splits keep ``tied:N`` with ``ref:N``.
"""
from __future__ import annotations

import numbers
import re
from typing import Any, Iterator

from judgebench import ConfigError, Example, TaskLoader

from .formats import SourceRows

SUBSETS = ("Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties")
TIES_ID = re.compile(r"^(tied|ref):(\d+)$")
HUB_ID = "allenai/reward-bench-2"


def ties_key(example_id: str) -> tuple[str, int] | None:
    """("tied" | "ref", N) for a Ties id, else None."""
    m = TIES_ID.match(example_id)
    return (m.group(1), int(m.group(2))) if m else None


class RewardBench2Loader(TaskLoader):
    def __init__(self, base_dir=None, path: str | None = None, hf: str | None = None, hf_split: str | None = "test",
                 subset: str | list[str] | None = None, require_rows: bool = True) -> None:
        super().__init__(base_dir)
        if path is None and hf is None:
            hf = HUB_ID
        self.src = SourceRows(self, path, hf, hf_split=hf_split, what="rewardbench2 loader")
        subsets = [subset] if isinstance(subset, str) else list(subset or [])
        unknown = [s for s in subsets if s not in SUBSETS]
        if unknown:
            raise ConfigError(f"rewardbench2 loader: unknown subset(s) {unknown}; choose from {list(SUBSETS)}")
        self.subsets = set(subsets)
        self.require_rows = require_rows

    def load(self, split: str) -> Iterator[Example]:
        seen_sources: set[str] = set()
        count = 0
        for source, n, row in self.src.rows(split):
            seen_sources.add(source)
            ex = self.to_example(source, n, row)
            if ex is None or (self.subsets and ex.category not in self.subsets):
                continue
            count += 1
            yield ex
        if count == 0 and self.require_rows and not self.skipped:
            where = ", ".join(sorted(seen_sources)) or "(no rows at all)"
            raise ConfigError(f"rewardbench2 loader: no rows of subset {sorted(self.subsets) or 'any'} in {where}; "
                              f"point 'path' at a full export (or remove it to read {HUB_ID} from the hub)")

    def to_example(self, source: str, n: int, row: dict[str, Any]) -> Example | None:
        def bad(field: str, msg: str) -> None:
            self.reject(source, n, field, msg)

        rid = row.get("id")
        if not isinstance(rid, str) or not rid:
            return bad("id", f"must be a non-empty string (RewardBench 2 ids are strings like '0' or 'tied:3'); "
                             f"got {rid!r}")
        prompt = row.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return bad("prompt", "missing or empty")
        lists = {}
        for key in ("chosen", "rejected"):
            v = row.get(key)
            if isinstance(v, tuple):
                v = list(v)
            if not isinstance(v, list) or not v:
                return bad(key, f"must be a non-empty list of responses, got {type(v).__name__}")
            if not all(isinstance(x, str) for x in v):
                return bad(key, "every response must be text")
            lists[key] = v
        chosen, rejected = lists["chosen"], lists["rejected"]
        counts = {"num_correct": len(chosen), "num_incorrect": len(rejected),
                  "total_completions": len(chosen) + len(rejected)}
        for key, want in counts.items():
            got = row.get(key)
            if isinstance(got, bool) or not isinstance(got, numbers.Integral) or got != want:
                return bad(key, f"is {got!r} but the row has {want} (chosen {len(chosen)}, rejected {len(rejected)})")
        subset = row.get("subset")
        if subset not in SUBSETS:
            return bad("subset", f"{subset!r} is not one of {list(SUBSETS)}")
        meta: dict[str, Any] = {"subset": subset, "models": list(row.get("models") or [])}
        if subset == "Ties":
            key = ties_key(rid)
            if key is None:
                return bad("id", f"Ties ids must be 'tied:N' or 'ref:N', got {rid!r}")
            if key[0] == "ref" and len(chosen) != 1:
                return bad("chosen", f"a ref:N row has exactly one correct answer, this one has {len(chosen)}")
            if key[0] == "tied" and len(chosen) < 2:
                return bad("chosen", f"a tied:N row has several correct answers, this one has {len(chosen)}")
            meta["split_group"] = f"ties:{key[1]}"
        return Example(id=rid, prompt=prompt, candidates=tuple(chosen + rejected), labels=tuple(range(len(chosen))),
                       category=subset, metadata=meta)
