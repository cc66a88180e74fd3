"""`pairs` loader: any JSONL/JSON/CSV/parquet file or Hugging Face dataset, mapped to Examples by field names.

YAML ``source`` options::

  path: data/{split}.jsonl        # file (``{split}`` is replaced), relative to the YAML file; or
  hf: org/name | /local/dir       # a Hugging Face dataset (hub name, saved dataset dir or data dir)
  hf_split: test                  # dataset split name (default: the task split)
  format: jsonl|json|csv|parquet  # default: from the file extension
  fields:
    id: id                        # optional; default: the row number
    prompt: question              # required
    candidates: responses         # a list field ... or
    candidate_fields: [answer_a, answer_b]   # one field per candidate ... or
    chosen: chosen                # chosen/rejected (string or list): candidates = chosen + rejected
    rejected: rejected
    label: winner                 # which candidate is correct (not needed with chosen/rejected)
    category: subset              # optional
    reference: gold               # optional
    metadata: [source, model]     # optional extra fields to keep
  label_format: index             # index (0-based) | index1 (1-based) | text (the correct candidate's text)
  label_map: {A: 0, B: 1, tie: [0, 1]}   # or map raw label values to indices (a list = several correct: a tie)
  category: name                  # a constant category when there is no category field
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from judgebench import ConfigError, Example, MissingExtra, TaskLoader
from judgebench.plugin import data_dir_hint, offline, offline_reason

from .formats import lines, read_text

FORMATS = ("jsonl", "json", "csv", "parquet")


class PairsLoader(TaskLoader):
    def __init__(self, base_dir=None, path: str | None = None, hf: str | None = None, hf_split: str | None = None,
                 format: str | None = None, fields: dict[str, Any] | None = None, label_format: str = "index",
                 label_map: dict[Any, Any] | None = None, category: str = "", hf_config: str | None = None) -> None:
        super().__init__(base_dir)
        if (path is None) == (hf is None):
            raise ConfigError("pairs loader: set exactly one of 'path' or 'hf' in the task's source")
        self.path, self.hf, self.hf_split, self.hf_config, self.format = path, hf, hf_split, hf_config, format
        self.fields = dict(fields or {})
        if "prompt" not in self.fields:
            raise ConfigError("pairs loader: fields.prompt is required")
        ways = [k for k in ("candidates", "candidate_fields", "chosen") if k in self.fields]
        if len(ways) != 1:
            raise ConfigError("pairs loader: give exactly one of fields.candidates, fields.candidate_fields or "
                              "fields.chosen (+ fields.rejected)")
        if "chosen" in self.fields and "rejected" not in self.fields:
            raise ConfigError("pairs loader: fields.chosen needs fields.rejected")
        if "chosen" not in self.fields and "label" not in self.fields:
            raise ConfigError("pairs loader: fields.label is required (unless chosen/rejected are used)")
        if label_format not in ("index", "index1", "text"):
            raise ConfigError(f"pairs loader: label_format must be index, index1 or text, not {label_format!r}")
        self.label_format, self.label_map, self.category = label_format, label_map, category

    # -- reading ---------------------------------------------------------------------------------
    def rows(self, split: str) -> tuple[str, Iterable[tuple[int, dict[str, Any]]]]:
        if self.hf is not None:
            return self.hf, enumerate(self._hf_rows(split), 1)
        p = self.resolve(self.path.replace("{split}", split))  # type: ignore[union-attr]
        if not p.exists():
            raise ConfigError(f"pairs loader: data file {p} does not exist (split '{split}'); {data_dir_hint()}")
        fmt = self.format or p.suffix.lstrip(".").lower().replace("gz", "") or "jsonl"
        if p.name.endswith(".jsonl.gz"):
            fmt = "jsonl"
        if fmt not in FORMATS:
            raise ConfigError(f"pairs loader: {p}: unknown format '{fmt}'; use one of {FORMATS}")
        return str(p), getattr(self, f"_read_{fmt}")(p)

    def _read_jsonl(self, p: Path) -> Iterator[dict[str, Any]]:
        for n, line in lines(p, self.reject):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                self.reject(str(p), n, "(line)", f"not valid JSON: {e}")
                continue
            if not isinstance(row, dict):
                self.reject(str(p), n, "(line)", f"expected a JSON object, got {type(row).__name__}")
                continue
            yield n, row

    def _read_json(self, p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            data = json.loads(read_text(p))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{p}: not valid JSON: {e}") from None
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise ConfigError(f"pairs loader: {p}: expected a JSON list of rows (or an object holding one list)")
            data = lists[0]
        if not isinstance(data, list):
            raise ConfigError(f"pairs loader: {p}: expected a JSON list of rows")
        for n, row in enumerate(data, 1):
            if not isinstance(row, dict):
                self.reject(str(p), n, "(row)", f"expected a JSON object, got {type(row).__name__}")
                continue
            yield n, row

    def _read_csv(self, p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        yield from enumerate(csv.DictReader(io.StringIO(read_text(p), newline="")), 1)

    def _read_parquet(self, p: Path) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            import pyarrow.parquet as pq
        except ImportError as e:
            raise MissingExtra("reading parquet", "data", e) from None
        return enumerate(pq.read_table(p).to_pylist(), 1)

    def _hf_rows(self, split: str) -> Iterable[dict[str, Any]]:
        try:
            import datasets
        except ImportError as e:
            raise MissingExtra("reading a Hugging Face dataset", "data", e) from None
        local = self.resolve(self.hf)  # type: ignore[arg-type]
        name = self.hf_split or split
        if not local.exists() and offline():
            raise ConfigError(f"pairs loader: '{self.hf}' is not a local folder ({local}) and cannot be downloaded: "
                              f"{offline_reason()}")
        try:
            if (local / "dataset_dict.json").exists() or (local / "dataset_info.json").exists():
                ds = datasets.load_from_disk(str(local))  # a dataset saved with save_to_disk
                return ds[name] if isinstance(ds, datasets.DatasetDict) else ds
            return datasets.load_dataset(str(local) if local.exists() else str(self.hf), self.hf_config, split=name)
        except (OSError, ValueError, KeyError, ConnectionError) as e:
            raise ConfigError(f"pairs loader: cannot load Hugging Face dataset '{self.hf}' split '{name}' "
                              f"(looked for a local path {local} first): {type(e).__name__}: {e}") from None

    # -- mapping ---------------------------------------------------------------------------------
    def load(self, split: str) -> Iterator[Example]:
        source, rows = self.rows(split)
        for n, row in rows:
            self.position = (source, n)
            ex = self.to_example(source, n, row)
            if ex is not None:
                yield ex

    def _get(self, source: str, n: int, row: dict[str, Any], key: str) -> Any:
        name = self.fields[key]
        if name not in row or row[name] is None or (isinstance(row[name], str) and not row[name].strip() and key in ("prompt", "id")):
            self.reject(source, n, name, "missing or empty")
            raise _Skip
        return row[name]

    def to_example(self, source: str, n: int, row: dict[str, Any]) -> Example | None:
        try:
            f = self.fields
            prompt = self._get(source, n, row, "prompt")
            ex_id = str(self._get(source, n, row, "id")) if "id" in f else str(n - 1)
            labels: tuple[int, ...]
            if "chosen" in f:
                ch, rj = self._get(source, n, row, "chosen"), self._get(source, n, row, "rejected")
                ch, rj = ([ch] if isinstance(ch, str) else list(ch)), ([rj] if isinstance(rj, str) else list(rj))
                if not ch or not rj:
                    self.reject(source, n, f["chosen"] if not ch else f["rejected"], "empty candidate list")
                    raise _Skip
                cands, labels = ch + rj, tuple(range(len(ch)))
            else:
                if "candidates" in f:
                    cands = self._get(source, n, row, "candidates")
                    if isinstance(cands, str):
                        cands = json.loads(cands)
                    cands = list(cands)
                else:
                    cands = [row.get(name) for name in f["candidate_fields"]]
                    for name, c in zip(f["candidate_fields"], cands):
                        if c is None:
                            self.reject(source, n, name, "missing candidate")
                            raise _Skip
                if len(cands) < 2:
                    self.reject(source, n, f.get("candidates", "candidates"), f"needs at least 2 candidates, got {len(cands)}")
                    raise _Skip
                labels = self._labels(source, n, self._get(source, n, row, "label"), cands)
            for i, c in enumerate(cands):
                if not isinstance(c, str):
                    self.reject(source, n, f"candidate {i}", f"expected text, got {type(c).__name__}")
                    raise _Skip
            category = str(row.get(f["category"], "")) if "category" in f else self.category
            reference = row.get(f["reference"]) if "reference" in f else None
            meta = {k: row.get(k) for k in f.get("metadata", [])}
            return Example(id=ex_id, prompt=str(prompt), candidates=tuple(cands), labels=labels, category=category,
                           reference=reference, metadata=meta)
        except _Skip:
            return None

    def _labels(self, source: str, n: int, raw: Any, cands: list[str]) -> tuple[int, ...]:
        where = self.fields["label"]
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            self.reject(source, n, where, f"label {raw!r} is not a candidate index or a label_map key "
                                          f"(true/false and fractions are refused, not rounded)")
            raise _Skip
        if self.label_map is not None:
            key = raw if raw in self.label_map else str(raw)
            if key not in self.label_map:
                self.reject(source, n, where, f"label {raw!r} is not in label_map {sorted(map(str, self.label_map))}")
                raise _Skip
            val = self.label_map[key]
            idx = list(val) if isinstance(val, list) else [val]
        elif self.label_format == "text":
            idx = [i for i, c in enumerate(cands) if c == raw]
        else:
            try:
                idx = [int(raw.strip() if isinstance(raw, str) else raw) - (1 if self.label_format == "index1" else 0)]
            except (TypeError, ValueError):
                self.reject(source, n, where, f"label {raw!r} is not an integer")
                raise _Skip from None
        if not idx or any(not 0 <= i < len(cands) for i in idx):
            self.reject(source, n, where, f"label {raw!r} points to no candidate (there are {len(cands)})")
            raise _Skip
        return tuple(idx)


class _Skip(Exception):
    """Internal: the current row was rejected (and recorded) — move on."""
