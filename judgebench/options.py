"""Backend options: one parser for ``Backend(model, **options)`` keyword options declared as a dataclass.

Every backend's options arrive the same way (``-o KEY=VALUE`` read as YAML, a ``backend.yaml``'s ``options``, or
keyword arguments from Python), so unknown keys, booleans written as strings and integers written as floats are
checked here once, with one message per mistake naming the backend, the option and what was expected.

Part of the public plugin API (re-exported by :mod:`judgebench.plugin`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def option_names(cls: type) -> list[str]:
    """The field names of an options dataclass."""
    return [f.name for f in dataclasses.fields(cls)]


def reject_unknown(who: str, options: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """ConfigError naming every key of ``options`` not in ``allowed`` and listing the allowed ones."""
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{who}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def as_bool(who: str, key: str, value: Any) -> bool:
    """``True``/``False`` or one of 1/0, true/false, yes/no, on/off (any case)."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{who}: option '{key}' must be true or false, got {value!r}")


def as_int(who: str, key: str, value: Any, low: int = 1) -> int:
    """An integer >= ``low`` (a whole float such as ``8.0`` is accepted; a bool is not)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = low - 1
    if isinstance(value, bool) or (isinstance(value, float) and value != n) or n < low:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ConfigError(f"{who}: option '{key}' must be {what}, got {value!r}")
    return n


def as_choice(who: str, key: str, value: Any, choices: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
    """One of ``choices`` (case-insensitive; ``aliases`` maps other spellings to a choice)."""
    v = str(value).lower()
    v = (aliases or {}).get(v, v)
    if v not in choices:
        raise ConfigError(f"{who}: option '{key}'={value!r}; choose {', '.join(choices)}")
    return v


def parse_options(cls: type[T], who: str, options: Mapping[str, Any], extra: Sequence[str] = ()) -> T:
    """Build the options dataclass ``cls`` from keyword options: unknown keys (other than ``extra``, which the
    caller handles) are refused, and each value is coerced by its field's declared type — ``bool`` fields with
    :func:`as_bool`, ``int`` fields (also ``int | None``) with :func:`as_int` (>= 1), ``float`` fields to float.
    Rules beyond the type (ranges, choices) belong to the caller."""
    allowed = option_names(cls)
    reject_unknown(who, options, [*allowed, *extra])
    kinds = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    kw: dict[str, Any] = {}
    for k, v in options.items():
        if k not in allowed:
            continue
        kind = kinds[k].replace(" ", "")
        if v is None and "None" in kind:
            kw[k] = None
        elif kind == "bool":
            kw[k] = as_bool(who, k, v)
        elif kind in ("int", "int|None", "Optional[int]"):
            kw[k] = as_int(who, k, v)
        elif kind in ("float", "float|None", "Optional[float]"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{who}: option '{k}' must be a number, got {v!r}")
            kw[k] = float(v)
        else:
            kw[k] = v
    return cls(**kw)
