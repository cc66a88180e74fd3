"""The public plugin API: everything a backend, task loader, protocol, tuner or command plugin may use.

A plugin imports from ``judgebench`` (the contracts, types and errors) and from this module — nothing else of the
core.  The built-in plugins under ``plugins/`` do exactly that, like any third-party package, and CI checks it
(``lint-imports``, contracts in pyproject.toml).  Names here are kept stable; the modules they live in are not
part of the API.

Contracts
    :class:`JudgeBackend` (``generate``; optional ``choice_logprobs``, ``stream(requests, mode, admit=None)``,
    ``fingerprint``, ``prices``), :class:`TaskLoader`, :class:`Protocol` (judging protocols), :class:`Tuner`;
    commands: a ``register(subparsers)`` function in the entry-point group :data:`COMMANDS_GROUP`.
Modes
    :data:`GENERATE` and :data:`CHOICE` — the same two names for protocols, the engine, backends
    (``JudgeBackend.capabilities``, ``stream``) and the CLI; :func:`mode_name` maps the deprecated
    ``choice_logprobs`` to ``choice`` where a user writes a mode.
Backends
    :data:`BACKEND_FILE` (``backend.yaml``: ``name``, ``model``, ``options``), :func:`parse_backend_spec`,
    :func:`read_backend_file`, :func:`write_backend_file`, :func:`build_backend`, :func:`add_backend_args` /
    :func:`backend_from_args` for commands; options: :func:`parse_options` (an options dataclass from keyword
    options), :func:`reject_unknown`, :func:`as_bool`, :func:`as_int`, :func:`as_choice`,
    :func:`parse_backend_opts` (``KEY=VALUE`` strings), :func:`resolve_trust_remote_code` (honoured only with
    ``--trust-remote-code`` on the command line).
Tasks
    :func:`resolve_tasks` (leaf tasks with examples and protocol, plus the group tree), :func:`read_ids`.
Protocols
    :class:`Protocol`, :func:`task_scorer` (a protocol's task-level rule, no instance needed),
    :func:`latest_per_slot`, :func:`match_patterns`, :func:`seeded_rng`, :func:`softmax_confidence`, :data:`LETTERS`.
Cost
    :func:`cost_usd` (the one price formula), :func:`estimate_cost`, :func:`estimate_tokens`, :class:`BudgetGate`.
Tuning
    :func:`example_digest`, :data:`PROVENANCE`, :func:`trained_digests`, :func:`overlap` (the contamination check).
Plugins
    :func:`load_plugin` (``load_plugin("backend", "hf")``), :func:`available_plugins`.
Environment
    offline hub and data: :func:`offline`, :func:`offline_reason`, :func:`data_dir_hint`, :func:`near` (did you
    mean); CPU threads shared by local judges: :func:`choose_threads`, :func:`register_threads`,
    :func:`unregister_threads`; secrets kept out of messages: :func:`redact`, :func:`redact_text`,
    :func:`redact_url`, :func:`register_secret`, :func:`is_secret_name`; :func:`dry_run` / :func:`is_dry_run`.
"""
from __future__ import annotations

from .backend import CHOICE, GENERATE, MODES, JudgeBackend, dry_run, is_dry_run, mode_name
from .contamination import PROVENANCE, example_digest, overlap, trained_digests
from .costs import NO_PRICES, BudgetGate, Prices, budget_message, cost_usd, estimate_cost, estimate_tokens
from .cpus import choose_threads
from .cpus import register as register_threads
from .cpus import unregister as unregister_threads
from .errors import BudgetExceeded, ConfigError, DataError, JudgebenchError, MissingExtra, PluginError
from .hub import data_dir_hint, near, offline, offline_reason
from .options import as_bool, as_choice, as_int, option_names, parse_options, reject_unknown
from .protocol_base import (LETTERS, Protocol, latest_per_slot, match_patterns, seeded_rng, softmax_confidence,
                            task_scorer)
from .redact import is_secret_name, redact, redact_text, redact_url, register_secret
from .registry import available as available_plugins
from .registry import load as load_plugin
from .resolve import Group, PreparedTask, ResolvedTasks, resolve_tasks
from .runner import read_ids
from .specs import (BACKEND_FILE, add_backend_args, backend_file_options, backend_from_args, backend_spec_from_args,
                    build_backend, parse_backend_opts, parse_backend_spec, read_backend_file, write_backend_file)
from .task import TaskLoader, TaskSpec
from .trust import resolve as resolve_trust_remote_code
from .tuner import Tuner
from .types import (TIE, BackendSpec, Completion, Example, ItemResult, JudgeRequest, Judgment, Message, SamplingParams,
                    Usage, as_messages, stable_hash)

#: entry-point group of commands contributed by plugins: ``NAME = "package.module:register"``, where
#: ``register(subparsers)`` adds the subcommand (its ``func`` default runs it).  The module's docstring, first
#: line, is the command's help in ``judgebench --help`` (read without importing the plugin).
COMMANDS_GROUP = "judgebench.commands"

__all__ = [
    "BACKEND_FILE", "BackendSpec", "BudgetExceeded", "BudgetGate", "CHOICE", "COMMANDS_GROUP",
    "Completion", "ConfigError", "DataError", "Example", "GENERATE", "Group", "ItemResult", "JudgeBackend",
    "JudgeRequest", "JudgebenchError", "Judgment", "LETTERS", "Message", "latest_per_slot", "match_patterns", "MissingExtra", "NO_PRICES",
    "PROVENANCE", "PluginError", "PreparedTask", "Prices", "Protocol", "ResolvedTasks", "SamplingParams", "TIE",
    "TaskLoader", "TaskSpec", "Tuner", "Usage", "add_backend_args", "as_bool", "as_choice", "as_int", "as_messages",
    "available_plugins", "backend_file_options", "backend_from_args", "backend_spec_from_args", "budget_message",
    "build_backend", "cost_usd", "dry_run", "estimate_cost", "estimate_tokens", "example_digest", "is_dry_run",
    "load_plugin", "MODES", "mode_name", "option_names",
    "overlap", "parse_backend_opts", "parse_backend_spec", "parse_options", "read_backend_file", "read_ids",
    "reject_unknown", "resolve_tasks", "resolve_trust_remote_code", "seeded_rng", "softmax_confidence", "stable_hash", "task_scorer",
    "trained_digests",
    "write_backend_file",
    "choose_threads", "data_dir_hint", "is_secret_name", "near", "offline", "offline_reason", "redact", "redact_text",
    "redact_url", "register_secret", "register_threads", "unregister_threads",
]
