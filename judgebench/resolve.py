"""Task resolution: a task or group name → its leaf tasks (examples loaded, protocol built) and its group tree,
in one call (:func:`resolve_tasks`) that every command uses: run, split, estimate, tune, the report, the lm-eval
export.

Part of the public plugin API (re-exported by :mod:`judgebench.plugin`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from . import registry
from .backend import GENERATE
from .errors import ConfigError
from .protocols import Protocol
from .sampling import stratified_sample
from .task import TaskIndex, TaskSpec, expand_env, iter_examples
from .types import Example, stable_hash

Group = tuple[str, str, list[str]]  # (group name, aggregate, leaf task names)

__all__ = ["Group", "PreparedTask", "ResolvedTasks", "group_tree", "load_examples", "prepare_task", "prepare_tasks",
           "resolve_tasks"]


@dataclass
class PreparedTask:
    """A task ready to run: its spec, examples, protocol and first-attempt requests."""

    spec: TaskSpec
    split: str
    examples: list[Example]
    protocol: Protocol
    data_hash: str
    skipped: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return self.spec.name

    def task_hash(self, seed: int, mode: str) -> str:
        spec = {k: v for k, v in self.spec.to_dict().items() if k not in ("path", "description", "defined_in")}
        return stable_hash([spec, self.split, self.data_hash, seed, mode], 16)


def load_examples(spec: TaskSpec, split: str | None, limit: int | None = None,
                  skip_invalid: bool = False) -> tuple[list[Example], list[dict[str, Any]], str]:
    if not spec.loader:
        raise ConfigError(f"task '{spec.name}' ({spec.path}) has no 'loader'")
    cls = registry.load("task", spec.loader)
    source = expand_env(spec.source or {})
    try:
        loader = cls(base_dir=spec.base_dir, **source)
    except TypeError as e:
        raise ConfigError(f"task '{spec.name}': bad 'source' options for loader '{spec.loader}': {e}") from None
    loader.skip_invalid = skip_invalid
    origin = str(spec.path)
    if isinstance(source, dict) and (source.get("path") or source.get("hf")):
        origin = str(source.get("path") or source.get("hf"))
        origin = origin if Path(origin).is_absolute() or not source.get("path") else str(spec.base_dir / origin)
    examples = list(iter_examples(loader, split or spec.split, limit, origin))
    if not examples:
        why = f" ({len(loader.skipped)} invalid rows skipped)" if loader.skipped else ""
        raise ConfigError(f"task '{spec.name}' ({spec.path}): the data {origin} has no examples in split "
                          f"'{split or spec.split}'{why}; expected at least one")
    data_hash = stable_hash([e.content_hash() for e in examples])
    return examples, list(loader.skipped), data_hash


def prepare_task(spec: TaskSpec, *, split: str | None = None, limit: int | None = None, seed: int = 0,
                 mode: str = GENERATE, skip_invalid: bool = False, keep: set[str] | None = None,
                 sample: int | None = None) -> PreparedTask:
    """One leaf task: its examples (the first ``limit``, those in ``keep``, or a seeded ``sample`` stratified by
    category) and its protocol, with the templates checked on the first example."""
    first = None if keep is not None or sample is not None else limit
    examples, skipped, data_hash = load_examples(spec, split, first, skip_invalid)
    if keep is not None:
        examples = [e for e in examples if e.id in keep][:limit]
    if sample is not None:
        examples = stratified_sample(examples, sample, seed, spec.name)
        data_hash = stable_hash([e.content_hash() for e in examples])
    protocol = registry.load("protocol", spec.protocol)(spec, seed=seed, mode=mode)
    prepare = getattr(protocol, "prepare_examples", None)  # e.g. pairwise: expand or refuse multi-answer rows
    if prepare is not None:
        examples = prepare(examples)
    if examples:  # templates are checked (sandbox, undefined names) before anything is written or sent
        protocol.expand(examples[0])
    return PreparedTask(spec, split or spec.split, examples, protocol, data_hash, skipped)


def group_tree(index: TaskIndex, name: str) -> tuple[list[TaskSpec], list[Group]]:
    """One walk of ``name``: its leaf task specs (in order, without repeats) and every group it scores, inner
    first, ``name`` itself last when it is a group (what ``TaskIndex.expand`` and ``TaskIndex.groups`` give)."""

    def walk(n: str, stack: tuple[str, ...]) -> tuple[list[TaskSpec], list[Group]]:
        spec = index.get(n)
        if not spec.group:
            return [spec], []
        leaves: list[TaskSpec] = []
        groups: list[Group] = []
        for child in spec.group:
            if child in stack:
                raise ConfigError(f"task group '{n}' includes itself via {child}")
            c_leaves, c_groups = walk(child, stack + (child,))
            leaves += [s for s in c_leaves if s.name not in {x.name for x in leaves}]
            groups += c_groups
        groups.append((spec.name, spec.aggregate, [s.name for s in leaves]))
        return leaves, groups

    return walk(name, (name,))


@dataclass
class ResolvedTasks:
    """What a task name stands for: the leaf tasks, ready to run, and the groups they are scored in."""

    name: str
    tasks: list[PreparedTask]
    groups: list[Group] = field(default_factory=list)  # inner first; the top group last (none for a leaf task)

    @property
    def is_group(self) -> bool:
        return bool(self.groups) and self.groups[-1][0] == self.name

    @property
    def group(self) -> tuple[str, str] | None:
        """(name, aggregate) of the top group, or None when ``name`` is a single task."""
        return (self.groups[-1][0], self.groups[-1][1]) if self.is_group else None

    @property
    def subgroups(self) -> list[Group]:
        """The groups nested inside the top group (inner first)."""
        return self.groups[:-1] if self.is_group else []

    def __iter__(self) -> Iterator[PreparedTask]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)


def resolve_tasks(task: str, *, split: str | None = None, include_paths: Sequence[str] = (),
                  limit: int | None = None, seed: int = 0, mode: str = GENERATE, skip_invalid: bool = False,
                  ids: Iterable[str] | None = None, index: TaskIndex | None = None,
                  sample: int | None = None) -> ResolvedTasks:
    """Every leaf task of ``task`` (a task or a group) with its examples and protocol, and the group tree, from one
    walk of the task index; ``limit`` keeps the first N examples of each task, ``sample`` a seeded sample of N
    stratified by category, ``ids`` only those examples."""
    if sample is not None and limit is not None:
        raise ConfigError(f"--limit {limit} and --sample {sample}: use one of them")
    index = index or TaskIndex(include_paths)
    leaves, groups = group_tree(index, task)
    keep = set(ids) if ids is not None else None
    tasks = [prepare_task(spec, split=split, limit=limit, seed=seed, mode=mode, skip_invalid=skip_invalid, keep=keep,
                          sample=sample) for spec in leaves]
    if keep is not None and not any(t.examples for t in tasks):
        raise ConfigError(f"--ids-file: none of its {len(keep)} ids is an example of task '{task}'")
    return ResolvedTasks(task, tasks, groups)


def prepare_tasks(task: str, **kw: Any) -> list[PreparedTask]:
    """The leaf tasks of :func:`resolve_tasks` (kept for older callers)."""
    return resolve_tasks(task, **kw).tasks
