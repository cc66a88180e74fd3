"""The Python API (what `judgebench run` is built on): evaluate a judge, read runs back, tabulate and compare.

    import judgebench
    res = judgebench.evaluate(backend="baseline:longer", task="sample")
    print(res.table())
    other = judgebench.load_run("runs/llmbar-smollm2")
    print(res.compare(other).table())

Everything heavy (the engine, backends, pandas) is imported on first use, never by ``import judgebench``.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, MissingExtra
from .types import BackendSpec, ItemResult

#: keyword options of :func:`evaluate` (the settings of a run, as in a ``--config`` file)
OPTIONS = ("split", "seed", "limit", "sample", "mode", "include_paths", "skip_invalid", "max_cost", "batch_size",
           "cache", "ids_file", "allow_contaminated")


@dataclasses.dataclass
class Results:
    """One run: its summary rows (one per task × category, plus task and group rows), items and manifest."""

    run_dir: Path
    rows: list[dict[str, Any]]
    manifest: dict[str, Any]
    items: list[ItemResult]
    stats: Any = None  # the engine's counters (sent, from cache, already done) for a run made in this process

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.manifest.get("usage") or {})

    @property
    def label(self) -> str:
        return str((self.manifest.get("backend") or {}).get("label", self.run_dir.name))

    @property
    def task(self) -> str:
        return str((self.manifest.get("config") or {}).get("task", ""))

    @property
    def score(self) -> float | None:
        """The headline score: the group row of a task group, else the task's overall row."""
        top = [r for r in self.rows if r["task"] == self.task and r["category"] == "all"]
        return (top or [r for r in self.rows if r["category"] == "all"] or [{"score": None}])[0]["score"]

    def table(self, fmt: str = "text") -> str:
        """The summary as text (``"text"``, the terminal table without colour) or ``"markdown"``."""
        if fmt == "markdown":
            head = ["task", "category", "n", "score %", "95% CI", "parse fail %", "errors", "consistent %"]
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(_cells(r)) + " |" for r in self.rows]
            return "\n".join(lines) + "\n"
        if fmt != "text":
            raise ConfigError(f"table(fmt={fmt!r}): expected 'text' or 'markdown'")
        import io

        from rich.console import Console

        from .console import results_table

        buf = io.StringIO()
        Console(file=buf, width=140, color_system=None).print(
            results_table(self.rows, title=f"{self.label} on {self.task}"))
        return buf.getvalue()

    def to_pandas(self, what: str = "summary") -> Any:
        """A DataFrame of the summary rows (``"summary"``) or of every item (``"items"``)."""
        pd = _pandas()
        if what == "summary":
            return pd.DataFrame(self.rows)
        if what == "items":
            return pd.DataFrame([dataclasses.asdict(it) for it in self.items])
        raise ConfigError(f"to_pandas(what={what!r}): expected 'summary' or 'items'")

    def compare(self, *others: "Results | str | Path", intersect: bool = False, seed: int = 0) -> "Comparison":
        """Paired comparison against other runs (this run is the reference): CIs, paired tests, bias, cost."""
        return compare(self, *others, intersect=intersect, seed=seed)

    def __repr__(self) -> str:
        score = "—" if self.score is None else f"{self.score:.1%}"
        return f"<Results {self.label} on {self.task}: score {score}, {len(self.items)} items, {self.run_dir}>"

    def _repr_markdown_(self) -> str:  # notebooks
        return self.table("markdown")


@dataclasses.dataclass
class Comparison:
    """Judges side by side on shared items; ``data`` is the comparison that every report format renders."""

    data: dict[str, Any]

    def table(self, fmt: str = "term") -> str:
        """Any report text format: ``term`` (plain terminal tables), ``markdown``, ``csv``, ``json``, ``latex``."""
        from .report.formats import render_comparison

        return render_comparison(self.data, fmt)

    def to_pandas(self) -> Any:
        """One tidy row per judge × task (scores, CIs, paired differences and p-values)."""
        from .report import formats

        return _pandas().DataFrame(formats.tidy_rows(self.data))

    def _repr_markdown_(self) -> str:
        return self.table("markdown")


def evaluate(backend: str | BackendSpec | Mapping[str, Any], task: str, *,
             backend_options: Mapping[str, Any] | None = None, run_dir: str | Path | None = None,
             runs_root: str | Path = "runs", progress: bool | Callable[[int, int], None] = False,
             **options: Any) -> Results:
    """Run (or resume, or read from the store) a judge on a task and return its results.

    ``backend`` is ``"NAME[:MODEL]"``, a tuned judge's directory, a :class:`BackendSpec` or
    ``{"name", "model", "options"}``; ``options`` are the run settings (:data:`OPTIONS`: ``limit=50``,
    ``mode="choice"``, ``seed=1``, ``max_cost=2.0`` …).  The same call twice is served from the run directory.
    """
    from .runner import RunConfig
    from .validate import check_settings

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"evaluate(): unknown option(s) {unknown}; expected some of {list(OPTIONS)}")
    check_settings({"task": task, **options}, "evaluate()")
    if isinstance(options.get("include_paths"), (str, Path)):
        options["include_paths"] = [options["include_paths"]]
    cfg = RunConfig(backend=backend_spec(backend, backend_options), task=task, **options)
    return run_config(cfg, runs_root=runs_root, run_dir=run_dir, progress=progress)


def run_config(cfg: Any, *, runs_root: str | Path = "runs", run_dir: str | Path | None = None,
               progress: bool | Callable[[int, int], None] = False, **kw: Any) -> Results:
    """Execute a :class:`~judgebench.runner.RunConfig` (the CLI's entry point into the API)."""
    from .console import progress_bar
    from .runner import execute

    def go(update: Callable[[int, int], None] | None) -> Any:
        return execute(cfg, runs_root=Path(runs_root), run_dir=Path(run_dir) if run_dir else None, progress=update,
                       **kw)

    log = logging.getLogger("judgebench.run")
    log.info("run: %s on %s (mode %s, limit %s, seed %s)", cfg.backend.label(), cfg.task, cfg.mode, cfg.limit,
             cfg.seed)
    t0 = time.perf_counter()
    if callable(progress):
        out = go(progress)
    else:
        with progress_bar(f"judging {cfg.task} with {cfg.backend.label()}", enabled=bool(progress)) as update:
            out = go(update)
    log.info("run: %s done in %.1f s: sent %d, from cache %d, already done %d", out.run_dir,
             time.perf_counter() - t0, out.stats.sent, out.stats.from_cache, out.stats.already_done)
    return Results(run_dir=out.run_dir, rows=out.rows, manifest=out.manifest, items=out.items, stats=out.stats)


def load_run(path: str | Path) -> Results:
    """A run directory read back (finished or stopped); a stopped run's rows are computed from what it stored."""
    from . import results
    from .metrics import summarize
    from .report.compare import run_groups, task_aggs

    run = results.load_run(path)
    rows = run.manifest.get("summary")
    if not rows:
        groups = run_groups(run)
        top = groups[-1] if groups else None
        rows = summarize(run.items, task_aggs(run), (top[0], top[1]) if top else None,
                         [(n, how, members) for n, how, members in groups[:-1]])
    return Results(run_dir=Path(path), rows=list(rows), manifest=run.manifest, items=run.items)


def compare(*runs: Results | str | Path, intersect: bool = False, seed: int = 0) -> Comparison:
    """Compare runs (the first is the reference); refuses runs that differ unless ``intersect=True``."""
    from . import results
    from .report.compare import add_calibrated, build_comparison

    if len(runs) < 2:
        raise ConfigError("compare() needs at least two runs")
    loaded = [results.load_run(r.run_dir if isinstance(r, Results) else r) for r in runs]
    c = build_comparison(loaded, reference=0, intersect=intersect, seed=seed)
    return Comparison(add_calibrated(c, loaded, reference=0, intersect=intersect, seed=seed))


def backend_spec(backend: str | BackendSpec | Mapping[str, Any],
                 options: Mapping[str, Any] | None = None) -> BackendSpec:
    from .specs import parse_backend_spec

    if isinstance(backend, BackendSpec):
        spec = backend
    elif isinstance(backend, Mapping):
        spec = BackendSpec.from_dict(dict(backend))
    elif isinstance(backend, (str, Path)):
        spec = parse_backend_spec(str(backend))
    else:
        raise ConfigError(f"evaluate(backend={backend!r}): expected 'NAME[:MODEL]', a directory or a BackendSpec")
    return BackendSpec(spec.name, spec.model, {**spec.options, **dict(options or {})})


def _cells(r: Mapping[str, Any]) -> list[str]:
    from .console import fmt_pct

    ci = "—" if not r["n"] else f"[{fmt_pct(r['ci_low'])}, {fmt_pct(r['ci_high'])}]"
    return [str(r["task"]), str(r["category"]), str(r["n"]), fmt_pct(r["score"]), ci,
            fmt_pct(r["parse_error_rate"]), str(r["errors"] + r["missing"]), fmt_pct(r["consistency"])]


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise MissingExtra("to_pandas()", "data", e) from None
    return pd


__all__ = ["Comparison", "OPTIONS", "Results", "compare", "evaluate", "load_run", "run_config"]
