"""The Python API: docs/python-api.md executed block by block (baseline judges standing in for SmolLM2), plus the
API's own errors and the light import."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

import judgebench
from judgebench.errors import ConfigError

from .conftest import ROOT


def doc_blocks() -> list[str]:
    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)\n```", text, re.S)


def test_python_api_doc_runs_as_a_notebook(tmp_path, monkeypatch, capsys):
    blocks = doc_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for i, block in enumerate(blocks):
        code = block.replace("hf:smollm2", "baseline:shorter")
        exec(compile(code, f"docs/python-api.md block {i + 1}", "exec"), ns)  # noqa: S102 - the documented example
    out = capsys.readouterr().out
    assert "baseline:shorter on sample" in out and "| task |" in out
    assert (tmp_path / "runs" / "llmbar-api" / "manifest.json").exists()
    # what the notebook computed is what the CLI reads back
    bar = ns["bar"]
    assert bar.task == "llmbar" and bar.score is not None and 0 <= bar.score <= 1
    assert len(bar.items) == 5 * 20
    summary = ns["summary"]
    assert list(summary["n"])[-1] == 140 and summary.shape[0] == len(ns["smol"].rows)


def test_evaluate_refuses_unknown_and_badly_typed_options(tmp_path):
    with pytest.raises(ConfigError, match="unknown option.*'limt'"):
        judgebench.evaluate(backend="baseline:longer", task="sample", limt=5, runs_root=tmp_path)
    with pytest.raises(ConfigError, match="field 'limit'"):
        judgebench.evaluate(backend="baseline:longer", task="sample", limit="five", runs_root=tmp_path)
    assert not (tmp_path / "runs").exists()


def test_load_run_of_a_cli_run_equals_the_api_result(tmp_path):
    from .conftest import cli

    res = judgebench.evaluate(backend="baseline:random", task="sample", limit=30, runs_root=tmp_path / "runs")
    p = cli("run", "--backend", "baseline:random", "--task", "sample", "--limit", "30", "--runs-root",
            str(tmp_path / "runs"), "--json")
    assert p.returncode == 0, p.stderr
    import json

    assert json.loads(p.stdout)["run_dir"] == str(res.run_dir)  # the CLI found the API's run: the same identity
    assert judgebench.load_run(res.run_dir).rows == res.rows
    with pytest.raises(ConfigError, match="not a judgebench run directory"):
        judgebench.load_run(tmp_path)


def test_import_judgebench_does_not_import_the_engine():
    code = "import sys, judgebench; judgebench.evaluate; print(sorted(m for m in sys.modules if m.startswith('judgebench')))"
    mods = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "judgebench.engine" not in mods and "judgebench.runner" not in mods and "judgebench.api" in mods
