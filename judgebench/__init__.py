"""judgebench: evaluate, compare and tune LLM judges. The core imports no ML framework."""
from __future__ import annotations

from .backend import CHOICE, GENERATE, JudgeBackend
from .errors import BudgetExceeded, ConfigError, DataError, JudgebenchError, MissingExtra, PluginError
from .task import TaskLoader, TaskSpec
from .tuner import Tuner
from .types import (TIE, BackendSpec, Completion, Example, ItemResult, JudgeRequest, Judgment, Message, SamplingParams,
                    Usage)

__version__ = "0.1.0"

#: the rest of the public plugin API (see judgebench.plugin), imported on first use so that `import judgebench`
#: stays light: e.g. ``from judgebench import Protocol, build_backend, resolve_tasks, seeded_rng``
_LAZY = ("BACKEND_FILE", "BudgetGate", "COMMANDS_GROUP", "LETTERS", "PROVENANCE", "Protocol",
         "ResolvedTasks", "as_bool", "build_backend", "cost_usd", "estimate_cost", "example_digest", "load_plugin",
         "parse_backend_spec", "parse_options", "read_backend_file", "read_ids", "resolve_tasks", "seeded_rng",
         "stable_hash", "write_backend_file")


#: the Python API (judgebench.api): ``judgebench.evaluate(backend=..., task=...)``, ``judgebench.load_run(path)``
_API = ("Comparison", "Results", "compare", "evaluate", "load_run")


def __getattr__(name: str):  # PEP 562
    if name == "CHOICE_LOGPROBS":  # the older name of the choice mode, for plugins written against it
        import warnings

        warnings.warn("judgebench.CHOICE_LOGPROBS is deprecated; use judgebench.CHOICE", DeprecationWarning, stacklevel=2)
        return CHOICE
    if name in _API:
        from . import api

        return getattr(api, name)
    if name in _LAZY:
        from . import plugin

        return getattr(plugin, name)
    raise AttributeError(f"module 'judgebench' has no attribute {name!r}")

__all__ = [
    "BackendSpec", "BudgetExceeded", "CHOICE", "Completion", "ConfigError", "DataError", "Example",
    "GENERATE", "ItemResult", "JudgeBackend", "JudgeRequest", "JudgebenchError", "Judgment", "Message",
    "MissingExtra", "PluginError", "SamplingParams", "TIE", "TaskLoader", "TaskSpec", "Tuner", "Usage", "__version__",
    *_LAZY, *_API,
]
