"""Type and range checks for run settings (flags, `--config` files, a run's saved config.yaml): one clear error each."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .errors import ConfigError

Check = Callable[[Any], "str | None"]  # None when the value is fine, else what was expected


def _int(minimum: int | None = None, optional: bool = True) -> Check:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            return f"expected an integer{' ≥ %d' % minimum if minimum is not None else ''}"
        if minimum is not None and v < minimum:
            return f"expected an integer ≥ {minimum}"
        return None
    return check


def _text(optional: bool = True) -> Check:
    def check(v: Any) -> str | None:
        if v is None and optional:
            return None
        return None if isinstance(v, str) and v.strip() else "expected a non-empty text"
    return check


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) or v is None else "expected true or false"


def _usd(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        return "expected a finite number of USD ≥ 0"
    return None


def _text_list(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return None  # one path
    return None if isinstance(v, list) and all(isinstance(x, str) for x in v) else "expected a list of texts"


def _mode(v: Any) -> str | None:
    return None if v in (None, "generate", "choice", "choice_logprobs") else "expected 'generate' or 'choice'"


def _backend(v: Any) -> str | None:
    if v is None or (isinstance(v, str) and v.strip()):
        return None
    if isinstance(v, Mapping) and isinstance(v.get("name"), str) and isinstance(v.get("options") or {}, Mapping) \
            and (v.get("model") is None or isinstance(v.get("model"), str)):
        return None
    return "expected NAME[:MODEL] or {name: ..., model: ..., options: {...}}"


#: every setting of a run, as written in a --config file or a run's config.yaml
CHECKS: dict[str, Check] = {
    "task": _text(), "split": _text(), "seed": _int(), "limit": _int(1), "sample": _int(1), "mode": _mode,
    "include_path": _text_list, "include_paths": _text_list, "skip_invalid": _bool, "max_cost": _usd,
    "batch_size": _int(1), "ids_file": _text(), "allow_contaminated": _bool, "backend": _backend,
    "backend_opt": lambda v: None if v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v))
    else "expected a list of KEY=VALUE texts", "cache": _bool,
}
FLAGS = {"limit": "--limit", "sample": "--sample", "max_cost": "--max-cost", "batch_size": "--batch-size",
         "seed": "--seed"}


def check_settings(values: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError for the first setting of the wrong type or range; ``where`` names the file."""
    for k, v in values.items():
        check = CHECKS.get(k)
        problem = check(v) if check is not None else None
        if problem:
            raise ConfigError(f"{where}: field '{k}': {problem}, got {v!r}")


def check_flags(args: Any) -> None:
    """Range checks of numeric flags (argparse already checked their types)."""
    for k, flag in FLAGS.items():
        v = getattr(args, k, None)
        problem = CHECKS[k](v) if v is not None else None
        if problem:
            raise ConfigError(f"{flag} {v}: {problem}")


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (a run config), or a ConfigError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read it ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        first = str(e).splitlines()
        raise ConfigError(f"{what} {path}: invalid YAML ({' '.join(x.strip() for x in first[:3])})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a mapping of settings, got {type(data).__name__}")
    return data
