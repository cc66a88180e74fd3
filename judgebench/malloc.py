"""glibc malloc settings for training on the CPU (stdlib only).

Training a judge on the CPU allocates and frees, layer after layer, tensors of a few to a few tens of MB (hidden
states, MLP activations, attention scores).  glibc's default raises its mmap threshold each time such a block is
freed (up to 32 MB), after which blocks of that size come from the heap, which fragments: the verdict fast path at
batch 8 with 1,024-token prompts then peaks at ~8 GiB RSS while less than 3 GiB is ever live.  A fixed mmap
threshold of 4 MiB hands every larger block back to the kernel when it is freed, and ``hugetlb=1`` backs those blocks
with transparent huge pages so the page faults do not cost time (measured by ``benchmarks/tune_overhead.py
--fast-path``; docs/tuning.md).

glibc reads ``GLIBC_TUNABLES`` only when a process starts, so ``judgebench tune`` started from the command line
re-executes itself once with the setting added (:func:`reexec_for_training`); processes that start a tuning
subprocess pass :func:`training_env` as its environment.  ``JUDGEBENCH_MALLOC=default`` keeps glibc's defaults; a
value the user already gave for one of these tunables wins.  Other C libraries (macOS, musl) are left alone.
"""
from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

#: the tunables set for training (name -> value)
TUNABLES = {"glibc.malloc.hugetlb": "1", "glibc.malloc.mmap_threshold": "4194304"}
OPT_OUT = "JUDGEBENCH_MALLOC"


def applies(env: Mapping[str, str]) -> bool:
    """Whether the settings apply here: Linux with glibc, and not turned off with ``JUDGEBENCH_MALLOC=default``."""
    if env.get(OPT_OUT, "").strip().lower() in ("default", "off", "0", "no"):
        return False
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def merged_tunables(current: str) -> str:
    """``current`` (a ``GLIBC_TUNABLES`` value, ``name=value`` joined by ``:``) with ours added where it has none."""
    parts = [p for p in current.split(":") if p]
    have = {p.split("=", 1)[0] for p in parts}
    return ":".join(parts + [f"{k}={v}" for k, v in TUNABLES.items() if k not in have])


def training_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's) for a process that trains: ``GLIBC_TUNABLES`` completed."""
    out = dict(os.environ if env is None else env)
    if applies(out):
        out["GLIBC_TUNABLES"] = merged_tunables(out.get("GLIBC_TUNABLES", ""))
    return out


def reexec_for_training() -> None:
    """Replace this process by itself with :func:`training_env` when the settings apply and are missing.

    Only for a process's own entry point (the ``judgebench`` command): the interpreter's original command line is
    re-run, so ``judgebench tune …``, ``python -m judgebench.cli tune …`` and ``python -c …`` all come back the same
    way.  Returns (doing nothing) when nothing is missing, so the new process does not loop, and where the
    interpreter cannot be located (an embedded Python)."""
    env = training_env()
    if not sys.executable or env.get("GLIBC_TUNABLES", "") == os.environ.get("GLIBC_TUNABLES", ""):
        return
    original = getattr(sys, "orig_argv", [sys.executable, *sys.argv])  # Python >= 3.10 keeps `-m …` / `-c …`
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *original[1:]], env)


__all__ = ["TUNABLES", "applies", "merged_tunables", "reexec_for_training", "training_env"]
