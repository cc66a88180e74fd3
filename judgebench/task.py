"""Task definitions: the TaskLoader contract and YAML task specs (shipped tasks/ plus --include-path)."""
from __future__ import annotations

import abc
import os
import re
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import yaml

from .errors import ConfigError, DataError
from .types import Example


class TaskLoader(abc.ABC):
    """Turns a data source into :class:`Example` objects.

    Built as ``Loader(base_dir=<dir of the YAML file>, **source)``.  Report a bad row with
    :meth:`reject`, which raises :class:`DataError` naming the file, row and field, or — when the run
    was started with ``--skip-invalid`` — records it so the report can count it.
    """

    def __init__(self, base_dir: str | Path | None = None, **options: Any) -> None:
        self.base_dir = Path(base_dir) if base_dir else Path.cwd()
        self.options = options
        self.skip_invalid = False
        self.skipped: list[dict[str, Any]] = []
        self.position: tuple[str, int | str] | None = None  # (file, row) of the example being read, when known

    @abc.abstractmethod
    def load(self, split: str) -> Iterable[Example]:
        """Yield the examples of ``split``."""

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        p = Path(os.path.expanduser(str(path)))
        return p if p.is_absolute() else (self.base_dir / p)

    def reject(self, source: str, row: int | str, field_name: str, message: str) -> None:
        err = DataError(source, row, field_name, message)
        if not self.skip_invalid:
            raise err
        self.skipped.append({"source": source, "row": row, "field": field_name, "message": message})


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any) -> Any:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in every string of a YAML value."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            v = os.environ.get(m.group(1))
            if v is None:
                if m.group(2) is None:
                    raise ConfigError(f"environment variable {m.group(1)} is not set (used as ${{{m.group(1)}}})")
                return m.group(2)
            return v
        return _ENV.sub(sub, value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


@dataclass
class TaskSpec:
    """A task definition as written in YAML."""

    name: str
    loader: str | None = None
    source: dict[str, Any] = field(default_factory=dict)
    split: str = "test"
    protocol: str = "pairwise"
    protocol_options: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    parse: dict[str, Any] = field(default_factory=dict)
    on_parse_failure: dict[str, Any] = field(default_factory=lambda: {"policy": "count_wrong"})
    sampling: dict[str, Any] = field(default_factory=dict)
    group: list[str] = field(default_factory=list)
    aggregate: str = "micro"  # "micro" (all items) or "category_mean" (unweighted mean of categories)
    description: str = ""
    extends: str | None = None
    path: str | None = None  # the YAML file it came from
    defined_in: str | None = None  # the YAML file that defines this task (``path`` is its data's, under extends)

    @property
    def base_dir(self) -> Path:
        return Path(self.path).parent if self.path else Path.cwd()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_SPEC_FIELDS = {f.name for f in fields(TaskSpec)}


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k != "source":
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


#: libyaml's safe loader when PyYAML was built with it (every run reads all task files: ~6x faster), else PyYAML's
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict[str, Any] | None:
    """A task definition, or None for a YAML file that is not one (no name + loader/group/extends)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); re-save the task file as UTF-8") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict) or "name" not in data or not {"loader", "group", "extends"} & set(data):
        return None
    unknown = set(data) - _SPEC_FIELDS
    if unknown:
        raise ConfigError(f"{path}: unknown task field(s) {sorted(unknown)}; allowed: {sorted(_SPEC_FIELDS - {'path'})}")
    return data


def builtin_task_dir() -> Path:
    return Path(str(resources.files("judgebench._tasks")))


class TaskIndex:
    """All task YAML files found in the shipped tasks/ dir, in the task folders plugin packages ship (entry-point
    group ``judgebench.task_dirs``) and in ``include_paths``, by name."""

    def __init__(self, include_paths: Sequence[str | Path] = ()) -> None:
        from .task_dirs import plugin_task_dirs

        self.raw: dict[str, dict[str, Any]] = {}
        shipped = [builtin_task_dir(), *(d.path for d in plugin_task_dirs() if d.path is not None)]
        dirs = [*shipped, *map(Path, include_paths)]
        for d in dirs:
            if not d.exists():
                raise ConfigError(f"--include-path {d}: no such directory")
            files = [d] if d.is_file() else sorted(list(d.rglob("*.yaml")) + list(d.rglob("*.yml")))
            for f in files:
                data = _read_yaml(f)
                if data is None:
                    continue
                data["path"] = str(f)
                data["defined_in"] = str(f)
                name = data["name"]
                if name in self.raw and d in shipped:  # two packages (or one package and judgebench) disagree
                    raise ConfigError(f"task '{name}' is defined twice: {self.raw[name]['path']} and {f}")
                self.raw[name] = data  # an include path may override a shipped task of the same name

    def names(self) -> list[str]:
        return sorted(self.raw)

    def get(self, name: str) -> TaskSpec:
        return TaskSpec(**self._resolved(name, ()))

    def _resolved(self, name: str, seen: tuple[str, ...]) -> dict[str, Any]:
        if name not in self.raw:
            from .registry import suggest
            raise ConfigError(f"unknown task '{name}'{suggest(name, self.names())}")
        if name in seen:
            raise ConfigError(f"task '{name}': 'extends' forms a cycle: {' -> '.join(seen + (name,))}")
        data = dict(self.raw[name])
        parent = data.get("extends")
        if parent:
            base = self._resolved(parent, seen + (name,))
            path = data["path"]
            data = _merge(base, data)
            data["path"] = path if "source" in self.raw[name] else base["path"]
        return data

    def expand(self, name: str) -> list[TaskSpec]:
        """A task, or every leaf task of a group (in order, without repeats)."""
        out: list[TaskSpec] = []
        seen: set[str] = set()

        def walk(n: str, stack: tuple[str, ...]) -> None:
            spec = self.get(n)
            if spec.group:
                for child in spec.group:
                    if child in stack:
                        raise ConfigError(f"task group '{n}' includes itself via {child}")
                    walk(child, stack + (child,))
            elif spec.name not in seen:
                seen.add(spec.name)
                out.append(spec)
        walk(name, (name,))
        return out

    def subgroups(self, name: str) -> list[tuple[str, str, list[str]]]:
        """The groups nested inside group ``name`` (inner first): (name, aggregate, leaf task names)."""
        out: list[tuple[str, str, list[str]]] = []
        spec = self.get(name)
        for child in spec.group or ():
            c = self.get(child)
            if c.group:
                out.extend(self.subgroups(child))
                out.append((c.name, c.aggregate, [t.name for t in self.expand(child)]))
        return out

    def groups(self, name: str) -> list[tuple[str, str, list[str]]]:
        """Every group a run of ``name`` scores, inner first, ``name`` itself last when it is a group."""
        spec = self.get(name)
        if not spec.group:
            return []
        return [*self.subgroups(name), (spec.name, spec.aggregate, [t.name for t in self.expand(name)])]


def iter_examples(loader: TaskLoader, split: str, limit: int | None = None, origin: str = "") -> Iterator[Example]:
    """The loader's examples (the first ``limit``); a repeated id is a DataError naming the file and both rows
    (``origin`` names the data when the loader does not report positions)."""
    first: dict[str, int | str | None] = {}
    for i, ex in enumerate(loader.load(split)):
        if limit is not None and i >= limit:
            return
        source, row = loader.position or (origin or type(loader).__name__, i + 1)
        if ex.id in first:
            raise DataError(source, row, "id", f"duplicate example id '{ex.id}' (first at row {first[ex.id]})")
        first[ex.id] = row
        yield ex
