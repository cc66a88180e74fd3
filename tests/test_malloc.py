"""glibc malloc tunables for CPU training (judgebench/malloc.py) and the tune command's one re-execution."""
from __future__ import annotations

import os
import subprocess
import sys

from judgebench import malloc

GLIBC = malloc.applies({})
OURS = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4194304"


def test_merge_adds_only_what_the_user_did_not_set():
    assert malloc.merged_tunables("") == OURS
    assert malloc.merged_tunables("glibc.malloc.hugetlb=0:glibc.pthread.rseq=0") == (
        "glibc.malloc.hugetlb=0:glibc.pthread.rseq=0:glibc.malloc.mmap_threshold=4194304")
    assert malloc.merged_tunables(OURS) == OURS


def test_opt_out_keeps_the_environment_as_it_is():
    env = {"JUDGEBENCH_MALLOC": "default", "GLIBC_TUNABLES": "glibc.pthread.rseq=0"}
    assert malloc.training_env(env) == env
    assert not malloc.applies(env)


def test_training_env_sets_the_tunables_on_glibc_only():
    env = malloc.training_env({"PATH": "/bin"})
    assert env == ({"PATH": "/bin", "GLIBC_TUNABLES": OURS} if GLIBC else {"PATH": "/bin"})


def _child(code: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "JUDGEBENCH_MALLOC")}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def test_reexec_runs_the_same_command_once_with_the_tunables():
    lines = _child("import os; from judgebench import malloc; print('start', os.getpid(), "
                   "os.environ.get('GLIBC_TUNABLES')); malloc.reexec_for_training(); print('after')")
    pid = lines[0].split()[1]
    if GLIBC:  # the process replaced itself (same pid): 'start' twice, the second time with the tunables set
        assert lines == [f"start {pid} None", f"start {pid} {OURS}", "after"]
    else:
        assert lines == [f"start {pid} None", "after"]


def test_tune_command_line_reexecs_but_in_process_calls_do_not():
    code = ("import os, sys; from judgebench import cli; print('env', os.environ.get('GLIBC_TUNABLES')); "
            "sys.argv = ['judgebench', 'tune', '--help']; ")
    lines = _child(code + "cli.main()" + "\n")
    env_lines = [ln for ln in lines if ln.startswith("env ")]
    assert env_lines[0] == "env None"
    assert env_lines[1:] == ([f"env {OURS}"] if GLIBC else [])
    assert sum(ln.startswith("usage: judgebench tune") for ln in lines) == 1  # the tune command's help, once
    lines = _child(code + "cli.main(['tune', '--help'])\n")  # explicit argv: a caller's process is left alone
    assert [ln for ln in lines if ln.startswith("env ")] == ["env None"]
