"""Plugin registry on stevedore: list plugins without importing them, load one by name with clear errors."""
from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from .errors import PluginError

NAMESPACES = {
    "backend": "judgebench.backends",
    "task": "judgebench.tasks",
    "protocol": "judgebench.protocols",
    "tuner": "judgebench.tuners",
    "command": "judgebench.commands",  # CLI subcommands contributed by plugins: NAME = "module:register"
}
#: extras of the judgebench distribution that built-in plugins need (for "pip install" hints)
EXTRAS = {("backend", "hf"): "hf", ("backend", "lora"): "hf",
          ("backend", "openai"): "api", ("backend", "litellm"): "api", ("backend", "vllm"): "vllm",
          ("tuner", "dpo"): "tune"}


@dataclass(frozen=True)
class PluginInfo:
    kind: str
    name: str
    value: str  # "module:attr"
    dist: str
    version: str


def suggest(name: str, installed: list[str]) -> str:
    close = difflib.get_close_matches(name, installed, n=1, cutoff=0.5)
    hint = f" — did you mean '{close[0]}'?" if close else ""
    return f"{hint} installed: {', '.join(sorted(installed)) or '(none)'}"


Signature = tuple[tuple[str, int, int, int], ...]


def path_signature() -> Signature:
    """What installed distributions depend on: each ``sys.path`` entry with its inode, modification time and link
    count (installing or removing a package adds or removes a ``*.dist-info`` folder there, which changes both the
    time and the count of sub-folders, even within one tick of the file-system clock)."""
    out = []
    for entry in sys.path:
        try:
            st = os.stat(entry or ".")
            out.append((entry, st.st_ino, st.st_mtime_ns, st.st_nlink))
        except OSError:
            out.append((entry, -1, -1, -1))
    return tuple(out)


_AVAILABLE: dict[str, tuple[Signature, list[PluginInfo]]] = {}
_VERSIONS: dict[str, tuple[Signature, str | None]] = {}


def available(kind: str) -> list[PluginInfo]:
    """Every entry point of a kind, with its distribution — read from metadata, nothing is imported.

    Reading every distribution's metadata costs ~10 ms, and one run asks several times (load, endpoint, manifest),
    so the answer is kept until an installation changes :func:`path_signature`."""
    sig = path_signature()
    hit = _AVAILABLE.get(kind)
    if hit is None or hit[0] != sig:
        hit = _AVAILABLE[kind] = (sig, _scan(kind))
    return list(hit[1])


def dist_version(name: str) -> str | None:
    """The installed version of distribution ``name`` (None when it is not installed), kept like :func:`available`."""
    sig = path_signature()
    hit = _VERSIONS.get(name)
    if hit is None or hit[0] != sig:
        try:
            version: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = None
        hit = _VERSIONS[name] = (sig, version)
    return hit[1]


def _scan(kind: str) -> list[PluginInfo]:
    out: list[PluginInfo] = []
    seen: set[tuple[str, str, str]] = set()
    for ep in metadata.entry_points(group=NAMESPACES[kind]):
        dist = ep.dist
        dname, version = (dist.name, dist.version) if dist is not None else ("?", "?")
        if (ep.name, ep.value, dname) not in seen:
            seen.add((ep.name, ep.value, dname))
            out.append(PluginInfo(kind, ep.name, ep.value, dname, version))
    return sorted(out, key=lambda p: (p.name, p.dist))


def duplicates(kind: str) -> dict[str, list[PluginInfo]]:
    by: dict[str, list[PluginInfo]] = {}
    for p in available(kind):
        by.setdefault(p.name, []).append(p)
    return {k: v for k, v in by.items() if len(v) > 1}


def load(kind: str, name: str) -> Any:
    """Import and return the plugin object (a class) registered as ``name`` in ``kind``'s namespace."""
    from stevedore import driver
    from stevedore.exception import NoMatches

    plugins = available(kind)
    names = sorted({p.name for p in plugins})
    if name not in names:
        raise PluginError(f"unknown {kind} '{name}'{suggest(name, names)}")
    same = [p for p in plugins if p.name == name]
    if len(same) > 1:
        where = "; ".join(f"{p.dist} ({p.value})" for p in same)
        raise PluginError(f"{kind} '{name}' is registered more than once: {where}. Uninstall one of them.")
    failure: list[BaseException] = []

    def on_fail(_mgr: Any, _ep: Any, exc: BaseException) -> None:
        failure.append(exc)

    try:
        mgr = driver.DriverManager(NAMESPACES[kind], name, invoke_on_load=False, on_load_failure_callback=on_fail)
        return mgr.driver
    except (NoMatches, RuntimeError) as e:
        exc = failure[0] if failure else e
        extra = EXTRAS.get((kind, name))
        hint = f"; it needs: pip install 'judgebench[{extra}]'" if extra and isinstance(exc, ImportError) else ""
        raise PluginError(f"{kind} '{name}' from {same[0].dist} ({same[0].value}) failed to load: "
                          f"{type(exc).__name__}: {exc}{hint}") from None


def summary(p: PluginInfo) -> str:
    """The first line of the docstring of the module ``p`` points to, read from its source file without importing
    the plugin (for ``judgebench --help``); "" when the source cannot be found."""
    import ast
    import importlib.util
    from pathlib import Path

    module = p.value.partition(":")[0].strip()
    top, _, rest = module.partition(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: found without importing anything
    except (ImportError, ValueError):
        return ""
    if spec is None:
        return ""
    if rest:
        dirs = list(spec.submodule_search_locations or [])
        parts = rest.split(".")
        files = [Path(d, *parts[:-1], parts[-1] + ".py") for d in dirs]
        files += [Path(d, *parts, "__init__.py") for d in dirs]
    else:
        files = [Path(spec.origin)] if spec.origin else []
    for f in files:
        if f.is_file():
            try:
                doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8"))) or ""
            except (SyntaxError, UnicodeDecodeError):
                return ""
            line = doc.strip().splitlines()[0].rstrip(".") if doc.strip() else ""
            return line[:1].lower() + line[1:]
    return ""


def check(kind: str, name: str) -> str | None:
    """Import one plugin; return None if it loads, else the error message (for ``list --check``)."""
    try:
        load(kind, name)
        return None
    except PluginError as e:
        return str(e)
