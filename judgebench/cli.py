"""The `judgebench` command line: list | run | export | estimate | serve | tune | compare | report.

Exit codes: 0 success; 1 unexpected failure; 2 bad input (flag, config, task, data row, plugin);
3 stopped before crossing --max-cost (resumable); 4 finished, but some items ended in an error; 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .errors import JudgebenchError
# moved to .specs (part of the public plugin API); kept here for old imports
from .specs import (BACKEND_FILE, add_backend_args, backend_from_args, backend_spec_from_args,  # noqa: F401
                    parse_backend_spec)

COMMANDS = ("list", "run", "estimate", "export", "split", "compare", "report", "serve", "tune", "export-lm-eval")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="judgebench", description="Evaluate, compare and tune LLM judges.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        mod = importlib.import_module(f"judgebench.commands.{name.replace('-', '_')}")
        mod.register(sub)
    for name in ("run", "estimate", "serve", "tune"):  # the only way to let a model repository run its code
        sub.choices[name].add_argument("--trust-remote-code", action="store_true",
                                       help="allow the model repository's own Python code (hf, lora, vllm); a "
                                            "backend.yaml, config or --backend-opt cannot switch it on")
    return parser


def quiet_libraries() -> None:
    """--quiet also silences the libraries a plugin loads later: Hugging Face progress bars ("Loading weights",
    downloads) and their info/warning logs, and Python warnings such as deprecation notices.  Errors still show."""
    import os
    import warnings

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read by huggingface_hub and transformers at import
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"  # --quiet wins over a louder setting in the environment
    os.environ["DATASETS_VERBOSITY"] = "error"
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|transformers|peft|trl)\b")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "quiet", False):
        quiet_libraries()
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
