"""Bad input gets a clear error naming the file, row and field — or, with --skip-invalid, is counted."""
from __future__ import annotations

import json

import pytest

from .conftest import cli, write_jsonl

GOOD = {"id": "g1", "q": "2+2?", "a": "4", "b": "5", "win": 0}


def task_dir(tmp_path, rows, extra=""):
    d = tmp_path / "tasks"
    d.mkdir(exist_ok=True)
    write_jsonl(d / "rows.jsonl", rows)
    (d / "t.yaml").write_text("name: vt\nloader: pairs\nsource:\n  path: rows.jsonl\n  fields: {id: id, prompt: q, "
                              f"candidates: cands, label: win}}\n{extra}protocol: pairwise\n")
    return d


@pytest.mark.parametrize("bad,field,words", [
    ({"id": "b1", "cands": ["x", "y"], "win": 0}, "q", "missing"),
    ({"id": "b1", "q": "?", "cands": [], "win": 0}, "cands", "at least 2 candidates"),
    ({"id": "b1", "q": "?", "cands": ["x", "y"], "win": 2}, "win", "points to no candidate"),
    ({"id": "b1", "q": "?", "cands": ["x", "y"], "win": "first"}, "win", "not an integer"),
    ({"id": "b1", "q": "?", "cands": ["x", "y"]}, "win", "missing"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, bad, field, words):
    good = {"id": "g1", "q": "2+2?", "cands": ["4", "5"], "win": 0}
    d = task_dir(tmp_path, [good, bad, {**good, "id": "g2"}])
    p = cli("run", "--backend", "baseline:longer", "--task", "vt", "--include-path", str(d), "--runs-root", str(tmp_path / "r"))
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"rows.jsonl: row 2: field '{field}'" in p.stderr and words in p.stderr
    assert "Traceback" not in p.stderr


def test_skip_invalid_counts_and_reports(tmp_path):
    good = {"id": "g1", "q": "2+2?", "cands": ["4", "5"], "win": 0}
    rows = [good, {"id": "b1", "q": "?", "cands": [], "win": 0}, {"id": "b2", "q": "?", "cands": ["x"], "win": 5},
            {**good, "id": "g2"}]
    d = task_dir(tmp_path, rows)
    p = cli("run", "--backend", "baseline:longer", "--task", "vt", "--include-path", str(d), "--run-dir",
            str(tmp_path / "r"), "--skip-invalid", check=True)
    assert "skipped invalid rows: 2" in p.stdout
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    skipped = manifest["tasks"]["vt"]["skipped_invalid"]
    assert [s["row"] for s in skipped] == [2, 3] and manifest["tasks"]["vt"]["n_examples"] == 2


def test_duplicate_ids_and_label_map(tmp_path):
    d = task_dir(tmp_path, [{"id": "x", "q": "?", "cands": ["a", "b"], "win": "A"},
                            {"id": "x", "q": "?", "cands": ["a", "b"], "win": "B"}],
                 extra="  label_map: {A: 0, B: 1, tie: [0, 1]}\n")
    p = cli("run", "--backend", "baseline:longer", "--task", "vt", "--include-path", str(d), "--runs-root", str(tmp_path / "r"))
    assert p.returncode == 2 and "duplicate example id 'x'" in p.stderr


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet", "hf"])
def test_pairs_loader_formats(tmp_path, fmt):
    rows = [{"id": f"r{i}", "q": f"q{i}", "a": "long answer" * (i + 1), "b": "short", "win": i % 2} for i in range(6)]
    d = tmp_path / "t"
    d.mkdir()
    src = "path: rows." + fmt
    if fmt == "json":
        (d / "rows.json").write_text(json.dumps(rows))
    elif fmt == "csv":
        import csv
        with (d / "rows.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_pylist(rows), d / "rows.parquet")
    else:
        import datasets
        datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(d / "ds"))
        src = "hf: ds"
    (d / "t.yaml").write_text(f"name: ft\nloader: pairs\nsource:\n  {src}\n  fields: {{id: id, prompt: q, "
                              "candidate_fields: [a, b], label: win}\nprotocol: pairwise\n")
    p = cli("run", "--backend", "baseline:shorter", "--task", "ft", "--include-path", str(d), "--runs-root",
            str(tmp_path / "r"), "--json", check=True)
    overall = [r for r in json.loads(p.stdout)["rows"] if r["category"] == "all"][0]
    assert overall["n"] == 6 and overall["score"] == 0.5  # "short" wins: right exactly on the odd rows


def test_scripted_reply_that_yaml_reads_as_a_list_is_rejected(tmp_path):
    p = cli("run", "--backend", "scripted", "-o", "reply=[[A]]", "--task", "sample", "--limit", "2",
            "--run-dir", str(tmp_path / "r"), "-q")
    assert p.returncode == 2
    assert "reply= must be text" in p.stderr and "[['A']]" in p.stderr


@pytest.mark.parametrize("content,words", [(None, "no such file"), ('{"x": 1}', "expected a JSON list of ids")])
def test_bad_ids_file_is_a_clear_error(tmp_path, content, words):
    f = tmp_path / "ids.json"
    if content is not None:
        f.write_text(content)
    p = cli("run", "--backend", "baseline:longer", "--task", "sample", "--ids-file", str(f),
            "--run-dir", str(tmp_path / "r"), "-q")
    assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr
