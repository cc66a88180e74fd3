"""The `judgebench` command line: list | run | export | estimate | split | tune | compare | report | view, plus the
commands plugins contribute through the ``judgebench.commands`` entry-point group (built in: serve, export-lm-eval).

Exit codes: 0 success; 1 unexpected failure; 2 bad input (flag, config, task, data row, plugin);
3 stopped before crossing --max-cost (resumable); 4 finished, but some items ended in an error; 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from . import registry
from .errors import JudgebenchError
# moved to .specs (part of the public plugin API); kept here for old imports
from .specs import (BACKEND_FILE, add_backend_args, backend_from_args, backend_spec_from_args,  # noqa: F401
                    parse_backend_spec)

COMMANDS = ("list", "run", "estimate", "export", "split", "compare", "report", "view", "tune", "demo")  # the core's own


def add_plugin_commands(sub: argparse._SubParsersAction, chosen: str | None) -> None:
    """Commands from the ``judgebench.commands`` entry points.  Only the chosen one is imported (its ``register``
    adds the real parser); the others are listed for ``--help`` with the first line of their module docstring,
    read without importing the plugin."""
    for p in registry.available("command"):
        if p.name in sub.choices:
            continue  # a core command, or a name registered twice (`judgebench list` reports it)
        if p.name == chosen:
            registry.load("command", p.name)(sub)
        else:
            sub.add_parser(p.name, help=registry.summary(p) or f"(from {p.dist})", add_help=False)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, a plugin command named in it is imported and registered for real."""
    parser = argparse.ArgumentParser(prog="judgebench", description="Evaluate, compare and tune LLM judges.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        mod = importlib.import_module(f"judgebench.commands.{name.replace('-', '_')}")
        mod.register(sub)
    words = [a for a in (argv or ()) if not a.startswith("-")]
    add_plugin_commands(sub, words[0] if words else None)
    for name in ("run", "estimate", "serve", "tune"):  # the only way to let a model repository run its code
        if name not in sub.choices or not sub.choices[name].add_help:
            continue  # not installed, or a plugin command listed for --help only
        sub.choices[name].add_argument("--trust-remote-code", action="store_true",
                                       help="allow the model repository's own Python code (hf, lora, vllm); a "
                                            "backend.yaml, config or --backend-opt cannot switch it on")
    return parser


def quiet_libraries(keep_warnings: bool = False) -> None:
    """Silence the libraries a plugin loads later (the default of `run`; `--verbose` keeps them): Hugging Face
    progress bars ("Loading weights", downloads) and their info/warning logs, and Python warnings such as
    deprecation notices (``keep_warnings``: left to `--log-file`, which records them).  Errors still show."""
    import os
    import warnings

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read by huggingface_hub and transformers at import
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"  # wins over a louder setting in the environment
    os.environ["DATASETS_VERBOSITY"] = "error"
    if keep_warnings:
        return
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|transformers|peft|trl)\b")


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["tune"]:  # the process's own entry: glibc reads its tunables at start
        from .malloc import reexec_for_training

        reexec_for_training()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(argv)
    except JudgebenchError as e:  # the chosen plugin command failed to load
        print(f"judgebench: error: {e}", file=sys.stderr)
        return e.exit_code
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    log_file = getattr(args, "log_file", None)
    if getattr(args, "quiet", False) or getattr(args, "verbose", None) is False:
        quiet_libraries(keep_warnings=bool(log_file))
    if log_file:
        from .console import log_to_file

        try:
            log_to_file(log_file)
        except JudgebenchError as e:
            print(f"judgebench {args.command}: error: {e}", file=sys.stderr)
            return e.exit_code
    if getattr(args, "trust_remote_code", False):
        from . import trust

        trust.grant()
    try:
        return int(args.func(args) or 0)
    except JudgebenchError as e:
        from .redact import redact_text

        print(f"judgebench {args.command}: error: {redact_text(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"judgebench {args.command}: interrupted; everything judged so far is saved (resume with the same "
              f"command)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
