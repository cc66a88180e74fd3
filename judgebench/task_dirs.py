"""Task folders shipped by plugin packages: entry points in the group ``judgebench.task_dirs``.

A package declares ``NAME = "package:folder"`` (a folder of task YAML files inside ``package``, shipped as package
data) and its tasks are found by ``--task``, ``judgebench list`` and every other command, like the built-in ones.
The folder is located from the package's import spec: nothing of the package is imported.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

GROUP = "judgebench.task_dirs"


@dataclass(frozen=True)
class TaskDir:
    name: str
    value: str  # "package:folder"
    dist: str
    version: str
    path: Path | None  # None when it cannot be found (see ``problem``)
    problem: str | None = None


def locate(value: str) -> Path:
    """``package:folder`` → the folder's path (``package`` alone: the package's own folder), without importing."""
    pkg, _, sub = value.partition(":")
    parts = pkg.strip().split(".")
    if not pkg.strip() or not all(p.isidentifier() for p in parts):
        raise ValueError(f"expected 'package:folder', got {value!r}")
    spec = importlib.util.find_spec(parts[0])  # a top-level name is located, not imported
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package '{parts[0]}' is not installed (or is not a package)")
    base = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts[1:])
    folder = base / sub.strip() if sub.strip() else base
    if not folder.is_dir():
        raise ValueError(f"no folder {folder}")
    return folder


def plugin_task_dirs() -> list[TaskDir]:
    """Every declared task folder, in a stable order (by name, then distribution)."""
    out: dict[tuple[str, str, str], TaskDir] = {}
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist
        dname, version = (dist.name, dist.version) if dist is not None else ("?", "?")
        try:
            path, problem = locate(ep.value), None
        except ValueError as e:
            path, problem = None, str(e)
        out.setdefault((ep.name, ep.value, dname), TaskDir(ep.name, ep.value, dname, version, path, problem))
    return sorted(out.values(), key=lambda d: (d.name, d.dist))
