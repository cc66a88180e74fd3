"""One `judgebench run`: config → run directory (config, manifest, SQLite) → engine → scores."""
from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import yaml

from . import registry
from .backend import JudgeBackend, mode_name
from .contamination import overlap, trained_digests
from .dirlock import DirLock
from .engine import Engine, EngineStats, PreparedTask, default_run_dir, score_tasks
from .errors import ConfigError
from .metrics import TaskAgg, summarize
from .protocol_base import task_scorer
from .resolve import resolve_tasks
from .redact import redact
from .specs import build_backend  # noqa: F401  (moved to the public plugin API; kept here for old imports)
from .store import RunStore, default_cache_path, storage_failure
from .types import BackendSpec, ItemResult, stable_hash
from .validate import check_settings, read_yaml_mapping

MANIFEST, CONFIG = "manifest.json", "config.yaml"


@dataclass
class RunConfig:
    backend: BackendSpec
    task: str
    split: str | None = None
    seed: int = 0
    limit: int | None = None
    sample: int | None = None  # a seeded sample of N examples per task, stratified by category (instead of limit)
    mode: str = "generate"
    include_paths: list[str] = field(default_factory=list)
    skip_invalid: bool = False
    max_cost: float | None = None
    batch_size: int | None = None
    cache: bool = True
    ids_file: str | None = None  # restrict to the example ids listed in this file (one per line, or a split JSON)
    allow_contaminated: bool = False
    #: where the judge's answers come from besides its options (e.g. OPENAI_BASE_URL), see JudgeBackend.endpoint
    endpoint: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.mode, str):
            self.mode = mode_name(self.mode)  # a config written with the deprecated "choice_logprobs" still runs

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run (the budget and batch size do not), in its redacted form: a config
        read back from disk (where secrets are masked) still names the same run."""
        d = self.to_dict()
        for k in ("max_cost", "batch_size", "cache", "skip_invalid"):
            d.pop(k)
        return redact(d)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["backend"] = self.backend.to_dict()
        if not d["endpoint"]:
            d.pop("endpoint")  # runs of local judges (and older runs) keep their identity
        if d["sample"] is None:
            d.pop("sample")  # runs without --sample keep the identity they had before it existed
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        d = dict(d)
        d["backend"] = BackendSpec.from_dict(d["backend"])
        return cls(**d)


def read_run_config(path: Path) -> RunConfig:
    """A run's saved config.yaml, checked field by field (a damaged file is a ConfigError naming it)."""
    data = read_yaml_mapping(path, "run config")
    where = f"run config {path}"
    unknown = set(data) - {f.name for f in fields(RunConfig)}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; restore the file or start another --run-dir")
    for k in ("backend", "task"):
        if k not in data:
            raise ConfigError(f"{where}: field '{k}' is missing; restore the file or start another --run-dir")
    if not isinstance(data["backend"], dict):
        raise ConfigError(f"{where}: field 'backend': expected {{name: ..., model: ..., options: {{...}}}}, "
                          f"got {data['backend']!r}")
    check_settings(data, where)
    return RunConfig.from_dict(data)


@dataclass
class RunOutcome:
    run_dir: Path
    items: list[ItemResult]
    rows: list[dict[str, Any]]
    stats: EngineStats
    manifest: dict[str, Any]




def _versions(backend_name: str) -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("judgebench", "torch", "transformers", "peft", "trl", "vllm", "openai", "litellm", "numpy", "scipy"):
        version = registry.dist_version(pkg)
        if version is not None:
            out[pkg] = version
    for p in registry.available("backend"):
        if p.name == backend_name:
            out[f"plugin:{p.dist}"] = p.version
    return out


def read_ids(path: str) -> list[str]:
    """Example ids from a split's ``train.json``/``test.json`` (a list, or ``{"ids": [...]}``) or one id per line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--ids-file {path}: no such file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"--ids-file {path}: not UTF-8 text (byte {e.start}); expected a JSON list or one id per line"
                          ) from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
            ids = data["ids"] if isinstance(data, dict) else data
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"--ids-file {path}: expected a JSON list of ids or {{\"ids\": [...]}} ({e})") from None
        if not isinstance(ids, list):
            raise ConfigError(f"--ids-file {path}: expected a JSON list of ids or {{\"ids\": [...]}}")
        return [str(x) for x in ids]
    return [line.strip() for line in text.splitlines() if line.strip()]


def execute(cfg: RunConfig, *, runs_root: Path = Path("runs"), run_dir: Path | None = None,
            backend: JudgeBackend | None = None, progress: Callable[[int, int], None] | None = None,
            cache_path: Path | None = None) -> RunOutcome:
    """Run (or resume) a judge on a task; everything lands in the run directory as it happens."""
    ids = read_ids(cfg.ids_file) if cfg.ids_file else None
    resolved = resolve_tasks(cfg.task, split=cfg.split, include_paths=cfg.include_paths, limit=cfg.limit,
                             seed=cfg.seed, mode=cfg.mode, skip_invalid=cfg.skip_invalid, ids=ids, sample=cfg.sample)
    tasks, group, subgroups = resolved.tasks, resolved.group, resolved.subgroups
    pin_endpoint(cfg, type(backend) if backend is not None else None)
    config_hash = stable_hash(cfg.identity(), 16)
    run_dir = run_dir or default_run_dir(runs_root, cfg.task, cfg.backend.label(), config_hash)
    cfg_file = run_dir / CONFIG
    if cfg_file.exists():
        if stable_hash(read_run_config(cfg_file).identity(), 16) != config_hash:
            raise ConfigError(f"{run_dir} holds a different run (its {CONFIG} differs); use --resume {run_dir} to "
                              f"continue it or choose another --run-dir")
    own_backend = backend is None
    created = not run_dir.exists()
    # one writer per run directory: a second run on it stops here, before loading a model or sending anything
    lock = DirLock(run_dir, "run").acquire()
    try:
        backend = backend or build_backend(cfg.backend)
        try:
            contaminated = guard_contamination(backend, cfg.backend.model, tasks, cfg.allow_contaminated)
        except BaseException:
            if own_backend:
                backend.close()
            raise
    except BaseException:
        # a run that fails to start leaves no folder behind (which globs such as runs/llmbar__* would pick up)
        lock.release(remove=created)
        raise
    try:
        if not cfg_file.exists():  # only once the options are validated, and redacted like every file we write
            cfg_file.write_text(yaml.safe_dump(redact(cfg.to_dict()), sort_keys=False))
        store = RunStore(run_dir, (cache_path or default_cache_path()) if cfg.cache else None)
    except BaseException:
        lock.release()
        if own_backend:
            backend.close()
        raise
    manifest: dict[str, Any] = {}
    try:
        task_info = {t.name: {"split": t.split, "data_hash": t.data_hash, "task_hash": t.task_hash(cfg.seed, cfg.mode),
                              "n_examples": len(t.examples), "skipped_invalid": t.skipped, "protocol": t.spec.protocol,
                              "aggregate": t.spec.aggregate} for t in tasks}
        old_tasks = store.get("tasks")
        if old_tasks and {k: v["data_hash"] for k, v in old_tasks.items()} != {k: v["data_hash"] for k, v in task_info.items()}:
            raise ConfigError(f"{run_dir}: the task data changed since this run started (dataset hash differs); "
                              f"start a new run directory")
        store.put("tasks", task_info)
        manifest = _manifest(cfg, backend, task_info, status="running")
        manifest["contaminated_items"] = contaminated
        manifest["groups"] = [{"name": n, "aggregate": how, "tasks": members}
                              for n, how, members in resolved.groups]
        _write_manifest(run_dir, manifest)
        engine = Engine(backend, store, mode=cfg.mode, batch_size=cfg.batch_size, max_cost=cfg.max_cost,
                        progress=progress)
        t0 = time.perf_counter()
        try:
            stats = engine.run(tasks)
        finally:
            _record_stop(store, engine, t0, run_dir, manifest)
        items = score_tasks(tasks, store)
        rows = summarize(items, task_aggs(tasks), group, subgroups)
        manifest.update(_usage(store), status="complete", summary=rows)
        _write_manifest(run_dir, manifest)
        return RunOutcome(run_dir, items, rows, stats, manifest)
    except (sqlite3.Error, OSError) as e:
        failure = storage_failure(store.path, e)
        if failure is None:
            raise
        mark_failed(run_dir, manifest, str(failure))
        raise failure from None
    finally:
        store.close()
        if own_backend:
            backend.close()
        lock.release()


def pin_endpoint(cfg: RunConfig, backend_cls: type | None = None) -> None:
    """Record in ``cfg`` where its judge's answers come from besides the options (the backend class's
    ``endpoint``: e.g. OPENAI_BASE_URL); a resumed run whose environment now points elsewhere is refused.
    ``backend_cls``: the class of a backend instance handed to :func:`execute` (not looked up by name)."""
    cls = backend_cls or registry.load("backend", cfg.backend.name)
    current = cls.endpoint(cfg.backend.model, dict(cfg.backend.options))
    current = redact(current) or None
    if cfg.endpoint is not None and redact(cfg.endpoint) != current:
        raise ConfigError(f"this run was judged through {cfg.endpoint} but the environment now gives "
                          f"{current or 'the default endpoint'}; restore the environment to resume it, or start "
                          f"another run")
    cfg.endpoint = current


def task_aggs(tasks: list[PreparedTask]) -> dict[str, TaskAgg]:
    return {t.name: TaskAgg(t.spec.aggregate, scorer=task_scorer(t.protocol)) for t in tasks}


def guard_contamination(backend: JudgeBackend, model: str | None, tasks: list[PreparedTask], allow: bool) -> list[str]:
    """Refuse to evaluate a tuned judge on examples it was trained on (unless explicitly allowed);
    returns the ids of the overlapping examples (recorded in the manifest and shown in every table)."""
    digests = trained_digests(backend, model)
    if not digests:
        return []
    hits = overlap((e for t in tasks for e in t.examples), digests)
    if hits and not allow:
        raise ConfigError(f"contamination: this judge was trained on {len(hits)} of the evaluated examples "
                          f"(e.g. {hits[:5]}); evaluate on held-out items (--ids-file SPLIT_DIR/test.json) or pass "
                          f"--allow-contaminated to run anyway with the run marked contaminated")
    return hits


def _usage(store: RunStore) -> dict[str, Any]:
    tot = store.totals()
    sent = store.get("sent", 0) or 0
    backend_s = store.get("backend_s", 0.0) or 0.0
    tot.update(sent=sent, backend_s=backend_s, wall_s=store.get("wall_s", 0.0),
               judgments_per_s=(sent / backend_s) if backend_s > 0 else None,
               usd_per_1k=(tot["cost_usd"] / tot["n_judgments"] * 1000) if tot["cost_usd"] is not None and tot["n_judgments"] else None)
    if store.get("rate_stats") is not None:
        tot["rates"] = store.get("rate_stats")
    tot.update(store.get("backend_facts") or {})
    return {"usage": tot}


def _manifest(cfg: RunConfig, backend: JudgeBackend, task_info: dict[str, Any], status: str) -> dict[str, Any]:
    return {"judgebench_run": 1, "status": status, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "config": cfg.to_dict(), "backend": {"label": cfg.backend.label(), "fingerprint": backend.fingerprint(),
                                                 "info": backend.info()},
            "tasks": task_info, "seed": cfg.seed, "mode": cfg.mode, "versions": _versions(cfg.backend.name),
            "argv": sys.argv[1:]}


def _record_stop(store: RunStore, engine: Engine, t0: float, run_dir: Path, manifest: dict[str, Any]) -> None:
    """Add this session's time and sends to the run's totals and mark the manifest "stopped" (best effort on a full
    disk or a damaged store: the error that stopped the run is the one reported)."""
    try:
        store.put("backend_s", (store.get("backend_s", 0.0) or 0.0) + engine.stats.backend_s)
        store.put("sent", (store.get("sent", 0) or 0) + engine.stats.sent)
        store.put("wall_s", (store.get("wall_s", 0.0) or 0.0) + time.perf_counter() - t0)
        rate_stats = getattr(engine.backend, "rate_stats", None)  # hosted APIs: achieved rates, 429s (last session)
        if callable(rate_stats):
            store.put("rate_stats", rate_stats())
        facts = getattr(engine.backend, "run_facts", None)  # e.g. a jury: its members and their agreement
        if callable(facts):
            store.put("backend_facts", facts())
        manifest.update(_usage(store), status="stopped")
        _write_manifest(run_dir, manifest)
    except (sqlite3.Error, OSError) as e:
        if storage_failure(store.path, e) is None:
            raise


def mark_failed(run_dir: Path, manifest: dict[str, Any], error: str) -> None:
    """Mark the manifest "failed" — rewritten when the disk allows it, else patched in place (no new blocks)."""
    if manifest:  # else the run failed before its manifest was built: patch the one on disk, if any
        manifest.update(status="failed", error=error)
        try:
            _write_manifest(run_dir, manifest)
            return
        except OSError:
            (run_dir / (MANIFEST + ".tmp")).unlink(missing_ok=True)
    try:
        with open(run_dir / MANIFEST, "r+b") as f:
            data = f.read()
            for old in (b'"status": "running"', b'"status": "stopped"', b'"status": "complete"'):
                if old in data:
                    f.seek(data.index(old))
                    f.write(b'"status": "failed"'.ljust(len(old)))
                    break
    except OSError:
        pass


def _write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    tmp = run_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(redact(manifest), indent=2, default=str))
    os.replace(tmp, run_dir / MANIFEST)
