"""`judgebench export RUN`: write a run's judgments (or item scores) to JSONL or parquet."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ..errors import ConfigError, MissingExtra
from ..redact import redact_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run's judgments or items to JSONL/parquet")
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--out", "-o", required=True, help="output file (.jsonl or .parquet)")
    p.add_argument("--what", choices=["judgments", "items"], default="judgments")
    p.add_argument("--with-items", action="store_true",
                   help="add each item's prompt, candidates and label (indices of the correct candidates), read "
                        "from the task data the run used")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..store import RUN_DB, RunStore

    d = Path(args.run_dir)
    if not (d / RUN_DB).exists():
        raise ConfigError(f"{d}: not a run directory (no {RUN_DB})")
    store = RunStore(d, None)
    try:
        if args.what == "judgments":
            rows = [{**dataclasses.asdict(j), "task": t} for t, j in _with_task(store)]
        else:
            rows = [dataclasses.asdict(it) for it in store.items()]
    finally:
        store.close()
    if args.with_items:
        add_item_columns(d, rows)
    for r in rows:  # error messages are the one place a secret could hide in stored judgments
        if r.get("error"):
            r["error"] = redact_text(str(r["error"]))
    out = Path(args.out)
    if out.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:
            raise MissingExtra("parquet export", "data", e) from None
        # nested values and the verdict (an index, "tie", "inconsistent" or a list) are stored as JSON text
        # (the item columns keep their types: prompt a string, candidates a list of strings, label a list of ints)
        flat = [{k: json.dumps(v) if (isinstance(v, (dict, list)) and k not in ITEM_COLUMNS) or k == "verdict" else v
                 for k, v in r.items()} for r in rows]
        pq.write_table(pa.Table.from_pylist(flat), out)
    elif out.suffix == ".jsonl":
        with out.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    else:
        raise ConfigError(f"--out {out}: use a .jsonl or .parquet file name")
    print(f"wrote {len(rows)} {args.what} to {out}")
    return 0


ITEM_COLUMNS = ("prompt", "candidates", "label")


def add_item_columns(run_dir: Path, rows: list[dict]) -> None:
    """Join each row to its example (task, example_id) in the data the run was made from (its config.yaml)."""
    from ..engine import prepare_tasks
    from ..runner import CONFIG, read_ids, read_run_config

    cfg_file = run_dir / CONFIG
    if not cfg_file.exists():
        raise ConfigError(f"--with-items: {run_dir} has no {CONFIG} to find the task data from")
    cfg = read_run_config(cfg_file)
    ids = read_ids(cfg.ids_file) if cfg.ids_file else None
    tasks = prepare_tasks(cfg.task, split=cfg.split, include_paths=cfg.include_paths, limit=cfg.limit, seed=cfg.seed,
                          mode=cfg.mode, skip_invalid=True, ids=ids, sample=cfg.sample)
    examples = {(t.name, e.id): e for t in tasks for e in t.examples}
    for r in rows:
        e = examples.get((r.get("task"), r.get("example_id")))
        r["prompt"] = e.prompt if e else None
        r["candidates"] = list(e.candidates) if e else None
        r["label"] = list(e.labels) if e else None


def _with_task(store):
    tasks = [r[0] for r in store.con.execute("SELECT task FROM judgments ORDER BY rowid")]
    return zip(tasks, store.judgments())
