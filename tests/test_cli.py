"""The real CLI in a subprocess: the main flow on the sample task, config merging, export, exit codes."""
from __future__ import annotations

import json

import pyarrow.parquet as pq

from .conftest import cli


def test_sample_task_end_to_end_with_table(tmp_path):
    p = cli("run", "--task", "sample", "--backend", "baseline:longer", "--runs-root", str(tmp_path), check=True)
    assert "95% CI" in p.stdout and "sample" in p.stdout and "word-limit" in p.stdout and " 140 " in p.stdout
    run_dir = next(tmp_path.iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["usage"]["n_judgments"] == 280
    assert manifest["tasks"]["sample"]["data_hash"] and manifest["backend"]["fingerprint"]
    assert "judgebench" in manifest["versions"] and manifest["seed"] == 0
    again = cli("run", "--task", "sample", "--backend", "baseline:longer", "--runs-root", str(tmp_path), check=True)
    assert "sent now: 0" in again.stdout and "already done: 280" in again.stdout
    assert len(list(tmp_path.iterdir())) == 1  # the same command is the same run


def test_config_file_merged_under_flags(tmp_path):
    conf = tmp_path / "run.yaml"
    conf.write_text("backend: baseline:shorter\ntask: sample\nlimit: 7\nseed: 3\n")
    p = cli("run", "--config", str(conf), "--limit", "5", "--run-dir", str(tmp_path / "r"), "--json", check=True)
    out = json.loads(p.stdout)
    assert [r for r in out["rows"] if r["category"] == "all"][0]["items"] == 5
    saved = (tmp_path / "r" / "config.yaml").read_text()
    assert "shorter" in saved and "seed: 3" in saved
    p = cli("run", "--resume", str(tmp_path / "r"), "--json", check=True)
    assert json.loads(p.stdout)["usage"]["n_judgments"] == 10


def test_export_jsonl_and_parquet(tmp_path):
    cli("run", "--task", "sample", "--backend", "baseline:random", "--limit", "4", "--run-dir", str(tmp_path / "r"), check=True)
    cli("export", str(tmp_path / "r"), "--out", str(tmp_path / "j.jsonl"), check=True)
    rows = [json.loads(x) for x in (tmp_path / "j.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {"key", "example_id", "verdict", "status", "task"} <= set(rows[0])
    cli("export", str(tmp_path / "r"), "--out", str(tmp_path / "i.parquet"), "--what", "items", check=True)
    assert pq.read_table(tmp_path / "i.parquet").num_rows == 4


def test_exit_codes_and_clear_errors(tmp_path):
    p = cli("run", "--task", "sampel", "--backend", "baseline:longer", "--runs-root", str(tmp_path))
    assert p.returncode == 2 and "did you mean 'sample'" in p.stderr
    p = cli("run", "--task", "sample", "--backend", "baseline:biggest", "--runs-root", str(tmp_path))
    assert p.returncode == 2 and "baseline:longer" in p.stderr
    p = cli("run", "--task", "sample", "--backend", "baseline", "--backend-opt", "colour=red", "--runs-root", str(tmp_path))
    assert p.returncode == 2 and "colour" in p.stderr
    p = cli("run", "--task", "sample", "--runs-root", str(tmp_path))
    assert p.returncode == 2 and "--backend" in p.stderr
    p = cli("run", "--task", "sample", "--backend", "baseline:longer", "--mode", "choice", "--split", "nope",
            "--runs-root", str(tmp_path))
    assert p.returncode == 2 and "splits" in p.stderr
    assert all("Traceback" not in x for x in (p.stderr,))


def test_estimate_dry_run_sends_nothing(tmp_path):
    p = cli("estimate", "--task", "sample", "--backend", "baseline:longer", "--limit", "10", "--json", check=True)
    out = json.loads(p.stdout)
    assert out["requests"] == 20 and out["prompt_tokens"] > 0
