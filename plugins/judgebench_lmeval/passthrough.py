"""Run lm-evaluation-harness's own command line with the model "judgebench" registered.

`judgebench lm-eval ARGS…` is `lm_eval ARGS…` (every argument is passed through unchanged, `--help` included) in a
process where ``--model judgebench --model_args backend=hf:smollm2`` works; lm-eval's own `lm_eval` command does not
know the model, which registers only when ``judgebench_lmeval.model`` is imported.  Contributed by this plugin
(entry point ``lm-eval`` in the ``judgebench.commands`` group); imports only the public API.
"""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    # no options of our own ("+" is never used by lm-eval): everything after `lm-eval` goes to lm-eval untouched
    p = sub.add_parser("lm-eval", help="lm-evaluation-harness's CLI with the model 'judgebench' registered",
                       add_help=False, prefix_chars="+")
    p.add_argument("lm_eval_args", nargs=argparse.REMAINDER, help="arguments of lm_eval (see: judgebench lm-eval -h)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from judgebench import MissingExtra

    try:
        import judgebench_lmeval.model  # noqa: F401  registers "judgebench" with lm-eval's model registry
        from lm_eval.__main__ import cli_evaluate
    except ImportError as e:
        raise MissingExtra("judgebench lm-eval", "lm-eval", e) from None
    argv = sys.argv
    sys.argv = ["lm_eval", *args.lm_eval_args]
    try:
        cli_evaluate()
    except SystemExit as e:  # lm-eval exits for --help and for its own usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    finally:
        sys.argv = argv
    return 0
