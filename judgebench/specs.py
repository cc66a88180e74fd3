"""Backend specs: ``--backend NAME[:MODEL]`` / a tuned judge's directory, the ``backend.yaml`` file format,
``KEY=VALUE`` options, the ``--backend`` flags, and building a backend from a spec (through the registry).

Part of the public plugin API (re-exported by :mod:`judgebench.plugin`).  No heavy import at module level.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import yaml

from . import registry
from .errors import ConfigError
from .types import BackendSpec

if TYPE_CHECKING:
    from .backend import JudgeBackend

#: the file that makes a directory a backend (``--backend DIR``); written by tuners next to their output
BACKEND_FILE = "backend.yaml"


def parse_backend_opts(opts: Sequence[str], flag: str = "--backend-opt") -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` → ``{KEY: VALUE}``, each VALUE read as YAML (``3`` → 3, ``true`` → True)."""
    options: dict[str, Any] = {}
    for o in opts:
        k, eq, v = o.partition("=")
        if not eq or not k:
            raise ConfigError(f"{flag} {o!r}: expected KEY=VALUE")
        options[k] = yaml.safe_load(v) if v else ""
    return options


def read_backend_file(path: Path) -> BackendSpec:
    """A ``backend.yaml`` (or any YAML file) holding ``name``, optionally ``model`` and ``options``."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict) or "name" not in data:
        raise ConfigError(f"{path}: a backend spec file needs 'name' (and optionally 'model', 'options')")
    return BackendSpec.from_dict(data)


def write_backend_file(directory: Path, spec: BackendSpec) -> Path:
    """Write ``directory/backend.yaml`` so that ``--backend DIRECTORY`` builds ``spec``; returns the file."""
    f = Path(directory) / BACKEND_FILE
    f.write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
    return f


def backend_file_options(directory: Path) -> Mapping[str, Any] | None:
    """The ``options`` of ``directory/backend.yaml`` when the file exists (else None); not validated."""
    f = Path(directory) / BACKEND_FILE
    if not f.is_file():
        return None
    data = yaml.safe_load(f.read_text()) or {}
    return (data.get("options") or {}) if isinstance(data, dict) else {}


def parse_backend_spec(spec: str, opts: Sequence[str] = ()) -> BackendSpec:
    """``NAME``, ``NAME:MODEL`` or a directory/file holding a ``backend.yaml`` (a tuned judge), plus ``KEY=VALUE``
    options (which win over the file's)."""
    options: dict[str, Any] = {}
    p = Path(spec)
    if (p.is_dir() and (p / BACKEND_FILE).exists()) or (p.is_file() and p.suffix in (".yaml", ".yml")):
        base = read_backend_file(p / BACKEND_FILE if p.is_dir() else p)
        name, model, options = base.name, base.model, dict(base.options)
    elif p.is_dir():
        raise ConfigError(f"--backend {spec}: directory has no {BACKEND_FILE}")
    else:
        name, _, model_s = spec.partition(":")
        model = model_s or None
        if not name:
            raise ConfigError(f"--backend {spec!r}: expected NAME[:MODEL]")
    options.update(parse_backend_opts(opts))
    return BackendSpec(name=name, model=model, options=options)


def build_backend(spec: BackendSpec) -> "JudgeBackend":
    """Load the backend plugin named by ``spec`` and build it as ``Backend(model=..., **options)``."""
    cls = registry.load("backend", spec.name)
    try:
        return cls(model=spec.model, **dict(spec.options))
    except TypeError as e:
        raise ConfigError(f"backend '{spec.name}': bad options {dict(spec.options)}: {e}") from None


def add_backend_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    """The ``--backend`` and ``--backend-opt`` flags (for commands, built-in or contributed by a plugin)."""
    p.add_argument("--backend", "-b", required=required, default=None,
                   help="NAME[:MODEL] (e.g. baseline:longer, hf:smollm2, openai:gpt-4o) or a tuned judge's directory")
    p.add_argument("--backend-opt", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="backend option (repeatable); VALUE is read as YAML")


def backend_spec_from_args(args: argparse.Namespace) -> BackendSpec:
    return parse_backend_spec(args.backend, args.backend_opt)


def backend_from_args(args: argparse.Namespace) -> "JudgeBackend":
    return build_backend(backend_spec_from_args(args))
