"""`judgebench lm-eval …` is lm-eval's own CLI with the model "judgebench" registered; an exported task folder still
works after it is moved; lm-eval's --limit counts docs (one per order of a pair)."""
from __future__ import annotations

import json
import shutil

from .conftest import cli


def test_lm_eval_cli_runs_a_moved_export_with_the_judgebench_model(tmp_path):
    p = cli("export-lm-eval", "--task", "sample", "--out", str(tmp_path / "exported"), "--limit", "5", check=True)
    assert "judgebench lm-eval --include_path" in p.stdout
    text = (tmp_path / "exported" / "judgebench_sample.yaml").read_text()
    assert str(tmp_path) not in text  # no absolute paths in the task files
    moved = tmp_path / "elsewhere" / "tasks"
    shutil.move(str(tmp_path / "exported"), moved)
    p = cli("lm-eval", "--model", "judgebench", "--model_args", "backend=baseline:longer", "--include_path", str(moved),
            "--tasks", "judgebench_sample", "--limit", "6", "--output_path", str(tmp_path / "res"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    results = json.loads(next((tmp_path / "res").rglob("results_*.json")).read_text())
    # 5 pairs exported as 10 docs (both orders); --limit 6 is six docs, i.e. three pairs
    assert results["n-samples"]["judgebench_sample"] == {"original": 10, "effective": 6}
    assert 0.0 <= results["results"]["judgebench_sample"]["acc,none"] <= 1.0
    assert "judgebench_sample" in p.stdout


def test_lm_eval_help_and_usage_errors_are_lm_eval_s_own():
    h = cli("lm-eval", "--help")
    assert h.returncode == 0 and "Language Model Evaluation Harness" in h.stdout
    bad = cli("lm-eval", "run", "--no-such-flag")
    assert bad.returncode == 2 and "--no-such-flag" in bad.stderr
