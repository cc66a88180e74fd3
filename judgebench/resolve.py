"""Task resolution: a task or group name → its leaf tasks (examples loaded, protocol built) and its group tree,
in one call (:func:`resolve_tasks`) that every command uses: run, split, estimate, tune, the report, the lm-eval
export.

Part of the public plugin API (re-exported by :mod:`judgebench.plugin`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from .backend import GENERATE
from .engine import PreparedTask, load_examples, prepare_tasks
from .errors import ConfigError
from .task import TaskIndex, TaskSpec

Group = tuple[str, str, list[str]]  # (group name, aggregate, leaf task names)

__all__ = ["Group", "PreparedTask", "ResolvedTasks", "group_tree", "load_examples", "prepare_tasks", "resolve_tasks"]


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
    """Every leaf task of ``task`` (a task or a group) with its examples and protocol, and the group tree."""
    index = index or TaskIndex(include_paths)
    _, groups = group_tree(index, task)
    tasks = prepare_tasks(task, split=split, limit=limit, seed=seed, mode=mode, skip_invalid=skip_invalid, ids=ids,
                          index=index, sample=sample)
    return ResolvedTasks(task, tasks, groups)
