"""provenance.json of a tuned judge: base, task, split, the exact trained items (ids + content digests), config, curves."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from judgebench import ConfigError, Example
from judgebench.plugin import PROVENANCE, example_digest, stable_hash

LIBRARIES = ("judgebench", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "tokenizers")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in LIBRARIES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def split_manifest(ids_file: str | None, split: str | None) -> dict[str, Any]:
    """Where the training ids came from: the task split, or a split file (path, sha256 and its task/seed)."""
    out: dict[str, Any] = {"split": split, "ids_file": None}
    if ids_file:
        p = Path(ids_file)
        raw = p.read_bytes()
        out.update(ids_file=str(p.resolve()), ids_file_sha256=hashlib.sha256(raw).hexdigest())
        if p.suffix == ".json":
            data = json.loads(raw)
            if isinstance(data, dict):
                out.update({k: data[k] for k in ("task", "seed", "test_size") if k in data})
    return out


def pairs_digest(rows: Sequence[dict[str, Any]]) -> str:
    return stable_hash([[r["example_id"], r["prompt"], r["chosen"], r["rejected"]] for r in rows], 24)


def build(*, base: dict[str, Any], task: dict[str, Any], split: dict[str, Any], trained: Sequence[Example],
          pairs: dict[str, Any], pairs_sha: str, config: dict[str, Any]) -> dict[str, Any]:
    """The provenance record written before training starts (status "training")."""
    trained = sorted(trained, key=lambda e: e.id)
    return {"judgebench_tune": 1, "tuner": "dpo", "status": "training", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "base": base, "task": task, "split": split,
            "trained_ids": [e.id for e in trained],
            "trained_example_digests": [example_digest(e) for e in trained],
            "pairs": {**pairs, "digest": pairs_sha}, "config": config, "versions": versions()}


def path(out_dir: Path) -> Path:
    return Path(out_dir) / PROVENANCE


def read(out_dir: Path) -> dict[str, Any] | None:
    p = path(out_dir)
    return json.loads(p.read_text()) if p.is_file() else None


def write(out_dir: Path, record: dict[str, Any]) -> None:
    tmp = path(out_dir).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, path(out_dir))


def check_resumable(out_dir: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The previous record in ``out_dir`` when it describes the same training (so its checkpoints may be
    resumed); raises when ``out_dir`` holds a different tuning run."""
    old = read(out_dir)
    if old is None:
        return None
    record = json.loads(json.dumps(record, default=str))
    same = (old.get("config") == record["config"] and old.get("pairs", {}).get("digest") == record["pairs"]["digest"]
            and old.get("base", {}).get("fingerprint") == record["base"]["fingerprint"])
    if not same:
        raise ConfigError(f"{out_dir} holds a different tuning run (base, pairs or config differ); choose another --out "
                          f"or delete it")
    return old
