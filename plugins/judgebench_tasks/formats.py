"""Row readers shared by the benchmark loaders: local JSON/JSONL(.gz)/parquet/CSV files or folders, or the HF hub.

A benchmark loader takes ``path`` (a local export: one file, or a folder of files) and/or ``hf`` (a Hugging Face
dataset id, or a folder written by ``save_to_disk``).  When both are given the local path wins if it exists, else
the hub id is used — so a task YAML can point at ``${JUDGEBENCH_DATA_DIR:-data}/…`` and still work without a copy.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from judgebench import ConfigError, Example, MissingExtra, TaskLoader
from judgebench.plugin import data_dir_hint, offline, offline_reason

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet", ".csv")
Reject = Callable[[str, "int | str", str, str], None]


def _open_bytes(p: Path):
    return gzip.open(p, "rb") if p.name.endswith(".gz") else p.open("rb")


def read_text(p: Path) -> str:
    """A whole data file as text; bytes that are not UTF-8 are a ConfigError naming the file, line and offset."""
    with _open_bytes(p) as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{p}: line {line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                          f"re-save the file as UTF-8") from None


def lines(p: Path, reject: Reject) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-blank line; a line that is not UTF-8 goes to ``reject``."""
    with _open_bytes(p) as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                reject(str(p), n, "(line)", f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})")
                continue
            if line.strip():
                yield n, line


def data_files(p: Path) -> list[Path]:
    """The readable files of a path: the file itself, or every data file in a folder (recursively, sorted)."""
    if p.is_file():
        return [p]
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(SUFFIXES))
    if not files:
        raise ConfigError(f"{p}: no data files ({', '.join(SUFFIXES)}) in this folder")
    return files


def read_file(p: Path, reject: Reject) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) for every row of one file; a line that is not JSON goes to ``reject``."""
    name = p.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        for n, line in lines(p, reject):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                reject(str(p), n, "(line)", f"not valid JSON: {e}")
                continue
            if not isinstance(row, dict):
                reject(str(p), n, "(line)", f"expected a JSON object, got {type(row).__name__}")
                continue
            yield n, row
    elif name.endswith((".json", ".json.gz")):
        try:
            data = json.loads(read_text(p))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{p}: not valid JSON: {e}") from None
        if isinstance(data, dict):
            lists = [v for v in data.values() if isinstance(v, list)]
            if len(lists) != 1:
                raise ConfigError(f"{p}: expected a JSON list of rows (or an object holding exactly one list)")
            data = lists[0]
        if not isinstance(data, list):
            raise ConfigError(f"{p}: expected a JSON list of rows")
        for n, row in enumerate(data, 1):
            if not isinstance(row, dict):
                reject(str(p), n, "(row)", f"expected a JSON object, got {type(row).__name__}")
                continue
            yield n, row
    elif name.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError as e:
            raise MissingExtra("reading parquet", "data", e) from None
        yield from enumerate(pq.read_table(p).to_pylist(), 1)
    elif name.endswith(".csv"):
        yield from enumerate(csv.DictReader(io.StringIO(read_text(p), newline="")), 1)
    else:
        raise ConfigError(f"{p}: unknown data format; use one of {', '.join(SUFFIXES)}")


def hub_rows(hf: str, split: str, config: str | None = None, data_dir: str | None = None,
             base_dir: Path | None = None, tried: Path | None = None) -> Iterable[dict[str, Any]]:
    """Rows of a Hugging Face dataset: a ``save_to_disk`` folder, a local dataset folder, or a hub id."""
    try:
        import datasets
    except ImportError as e:
        raise MissingExtra("reading a Hugging Face dataset", "data", e) from None
    local = Path(hf) if Path(hf).is_absolute() or base_dir is None else base_dir / hf
    try:
        if (local / "dataset_dict.json").exists() or (local / "dataset_info.json").exists():
            ds = datasets.load_from_disk(str(local))
            return ds[split] if isinstance(ds, datasets.DatasetDict) else ds
        kw = {"data_dir": data_dir} if data_dir else {}
        return datasets.load_dataset(str(local) if local.exists() else hf, config, split=split, **kw)
    except (OSError, ValueError, KeyError, ConnectionError) as e:
        where = f" (and there is no local copy at {tried})" if tried is not None else ""
        raise ConfigError(f"cannot load Hugging Face dataset '{hf}' split '{split}'{where}: {type(e).__name__}: {e}"
                          ) from None


class SourceRows:
    """Resolve a loader's ``path`` / ``hf`` options to (source name, iterator of (row number, row))."""

    def __init__(self, loader: Any, path: str | None, hf: str | None, hf_split: str | None = None,
                 hf_config: str | None = None, hf_data_dir: str | None = None, what: str = "loader") -> None:
        if path is None and hf is None:
            raise ConfigError(f"{what}: set 'path' (a local file or folder) and/or 'hf' (a Hugging Face dataset id)")
        self.loader, self.path, self.hf = loader, path, hf
        self.hf_split, self.hf_config, self.hf_data_dir, self.what = hf_split, hf_config, hf_data_dir, what

    def local(self, split: str) -> Path | None:
        if self.path is None:
            return None
        p = self.loader.resolve(self.path.replace("{split}", split))
        if p.exists():
            return p
        if self.hf is None:
            raise ConfigError(f"{self.what}: no data at {p} (and no 'hf' dataset id to fall back to); "
                              f"{data_dir_hint()}")
        return None

    def rows(self, split: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
        """(source, row number, row) for every row: from the local path when it exists, else from the hub."""
        p = self.local(split)
        if p is not None:
            for f in data_files(p):
                for n, row in read_file(f, self.loader.reject):
                    yield str(f), n, row
            return
        name = self.hf_split or split
        tried = self.loader.resolve(self.path.replace("{split}", split)) if self.path is not None else None
        if not self.loader.resolve(str(self.hf)).exists() and offline():
            where = f"no data at {tried} ({data_dir_hint()})" if tried is not None else "no local copy"
            raise ConfigError(f"{self.what}: {where}, and '{self.hf}' cannot be downloaded: {offline_reason()}")
        for n, row in enumerate(hub_rows(str(self.hf), name, self.hf_config, self.hf_data_dir,
                                         self.loader.base_dir, tried), 1):
            yield f"{self.hf}[{name}]", n, dict(row)


def text(row: dict[str, Any], key: str, source: str, n: int, reject: Reject, allow_empty: bool = False) -> str | None:
    """A string field, or None after rejecting the row (missing, not a string, or empty)."""
    v = row.get(key)
    if not isinstance(v, str):
        reject(source, n, key, "missing" if v is None else f"expected text, got {type(v).__name__}")
        return None
    if not allow_empty and not v.strip():
        reject(source, n, key, "empty")
        return None
    return v


class RowLoader(TaskLoader):
    """A loader whose examples come one per row of ``self.src`` (a :class:`SourceRows`); a row that
    :meth:`to_example` turns into None was rejected (an error, or skipped and counted under --skip-invalid)."""

    src: SourceRows

    def load(self, split: str) -> Iterator[Example]:
        for k, (source, n, row) in enumerate(self.src.rows(split)):
            self.position = (source, n)
            ex = self.to_example(source, n, row, k)
            if ex is not None:
                yield ex

    def to_example(self, source: str, n: int, row: dict[str, Any], k: int) -> Example | None:
        """Row ``n`` of ``source``, the ``k``-th row read (0-based, over all files of a folder)."""
        raise NotImplementedError
