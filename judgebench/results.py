"""Read a finished (or stopped) run directory back: items, manifest, usage — the input of compare/report."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .store import RUN_DB, RunStore
from .types import ItemResult


@dataclass
class RunResult:
    run_dir: Path
    name: str
    backend: str
    fingerprint: str
    tasks: dict[str, str]  # task name -> task_hash (same hash = same task definition, split and items)
    items: list[ItemResult]
    manifest: dict[str, Any]
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def contaminated(self) -> bool:
        return bool(self.manifest.get("contaminated_items"))


def load_run(run_dir: str | Path) -> RunResult:
    d = Path(run_dir)
    mpath = d / "manifest.json"
    if not mpath.exists() or not (d / RUN_DB).exists():
        raise ConfigError(f"{d} is not a judgebench run directory (no manifest.json / {RUN_DB})")
    manifest = json.loads(mpath.read_text())
    store = RunStore(d, None)
    try:
        items = store.items()
    finally:
        store.close()
    usage = dict(manifest.get("usage") or {})
    return RunResult(run_dir=d, name=d.name, backend=manifest["backend"]["label"],
                     fingerprint=manifest["backend"]["fingerprint"],
                     tasks={k: v["task_hash"] for k, v in manifest.get("tasks", {}).items()},
                     items=items, manifest=manifest, usage=usage)
