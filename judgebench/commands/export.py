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
        flat = [{k: json.dumps(v) if isinstance(v, (dict, list)) or k == "verdict" else v for k, v in r.items()}
                for r in rows]
        pq.write_table(pa.Table.from_pylist(flat), out)
    elif out.suffix == ".jsonl":
        with out.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    else:
        raise ConfigError(f"--out {out}: use a .jsonl or .parquet file name")
    print(f"wrote {len(rows)} {args.what} to {out}")
    return 0


def _with_task(store):
    tasks = [r[0] for r in store.con.execute("SELECT task FROM judgments ORDER BY rowid")]
    return zip(tasks, store.judgments())
