"""Readable judge labels for reports: backend, mode and tuned judge's name instead of hashed run directories."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# config fields that tell two runs of the same judge apart, in the order they are tried
DISTINGUISHING = ("limit", "split", "seed", "ids_file", "include_paths")


def _backend_arg(manifest: dict[str, Any]) -> str | None:
    argv = [str(a) for a in manifest.get("argv") or []]
    for i, a in enumerate(argv):
        if a in ("--backend", "-b") and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--backend="):
            return a.split("=", 1)[1]
    return None


def tuned_name(manifest: dict[str, Any]) -> str | None:
    """The tuned judge's directory name when the run's backend came from one (``--backend judges/NAME``)."""
    arg = _backend_arg(manifest)
    if arg and ("/" in arg or Path(arg).suffix in (".yaml", ".yml")) and ":" not in arg.split("/")[0]:
        p = Path(arg)
        return (p.parent.name if p.suffix in (".yaml", ".yml") else p.name) or None
    options = ((manifest.get("config") or {}).get("backend") or {}).get("options") or {}
    adapter = options.get("adapter") if isinstance(options, dict) else None
    return Path(str(adapter)).name if adapter else None


def base_label(run: Any) -> str:
    """``backend (mode)``, or ``tuned-name (tuned from backend, mode)``."""
    m = run.manifest or {}
    mode = m.get("mode") or (m.get("config") or {}).get("mode")
    tuned = tuned_name(m)
    inner = ", ".join(x for x in (f"tuned from {run.backend}" if tuned else "", mode or "") if x)
    head = tuned or run.backend
    return f"{head} ({inner})" if inner else head


def _config_value(run: Any, key: str) -> Any:
    return ((run.manifest or {}).get("config") or {}).get(key)


def judge_labels(runs: Sequence[Any], overrides: dict[str, str] | None = None) -> list[str]:
    """One unique, readable label per run.  Runs that would share a label get the first config field that tells
    them apart (``limit=40``), else ``#2``, ``#3``.  ``overrides`` maps a run's directory name or path to a label."""
    overrides = overrides or {}
    labels = [base_label(r) for r in runs]
    for lab in set(labels):
        same = [i for i, x in enumerate(labels) if x == lab]
        if len(same) < 2:
            continue
        for key in DISTINGUISHING:
            values = [_config_value(runs[i], key) for i in same]
            if len({repr(v) for v in values}) == len(same):
                for i, v in zip(same, values):
                    labels[i] = f"{lab} {key}={v if v is not None else 'all'}"
                break
    seen: dict[str, int] = {}
    for i, lab in enumerate(labels):
        seen[lab] = seen.get(lab, 0) + 1
        if seen[lab] > 1:
            labels[i] = f"{lab} #{seen[lab]}"
    for key, name in overrides.items():
        hits = [i for i, r in enumerate(runs) if key == r.name or Path(key).resolve() == Path(r.run_dir).resolve()]
        if not hits:
            raise ConfigError(f"--label {key}={name}: {key} is none of the compared runs")
        for i in hits:
            labels[i] = name
    if len(set(labels)) < len(labels):
        raise ConfigError(f"--label: two judges would share a label ({', '.join(labels)})")
    return labels


def parse_label_args(values: Sequence[str]) -> dict[str, str]:
    """``--label RUN=NAME`` (repeatable) → {RUN: NAME}; RUN is a run directory (path or name)."""
    out: dict[str, str] = {}
    for v in values:
        run, eq, name = v.partition("=")
        if not eq or not run or not name.strip():
            raise ConfigError(f"--label {v!r}: expected RUN=NAME (a run directory or its name, then the label)")
        out[run.rstrip("/")] = name.strip()
    return out
