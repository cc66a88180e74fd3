"""`export --with-items`: each judgment joined to its prompt, candidates and label, the same types in both formats;
`compare` refuses differing runs naming the field that differs and suggesting --intersect."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from .conftest import DATA, cli


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    env = {"JUDGEBENCH_DATA_DIR": str(DATA), "JUDGEBENCH_CACHE_DIR": str(root / "cache")}  # module scope: set here
    made = {}
    for name, extra in (("l20", ["--limit", "20"]), ("l30", ["--limit", "30"]), ("choice", ["--limit", "20",
                                                                                       "--mode", "choice"])):
        made[name] = root / name
        cli("run", "-b", "baseline:longer", "-t", "llmbar", *extra, "--run-dir", str(made[name]), "-q", env=env,
            check=True)
    return made


def test_with_items_adds_prompt_candidates_and_label_with_the_same_types(runs, tmp_path, data_dir):
    jl, pa = tmp_path / "j.jsonl", tmp_path / "j.parquet"
    for out in (jl, pa):
        cli("export", str(runs["l20"]), "--with-items", "--out", str(out), check=True)
    rows = [json.loads(line) for line in jl.read_text().splitlines()]
    table = pq.read_table(pa)
    assert len(rows) == table.num_rows == 5 * 20 * 2  # five LLMBar subsets, both orders
    assert str(table.schema.field("prompt").type) == "string"
    assert str(table.schema.field("label").type) == "list<element: int64>"
    assert str(table.schema.field("candidates").type) == "list<element: string>"
    from_parquet = table.to_pylist()
    natural = json.loads((data_dir / "llmbar" / "LLMBar" / "Natural" / "dataset.json").read_text())
    for r, p in zip(rows, from_parquet):
        assert r["prompt"] == p["prompt"] and r["label"] == p["label"] and r["candidates"] == p["candidates"]
        assert isinstance(r["label"], list) and all(isinstance(x, int) for x in r["label"])
        assert r["prompt"] and len(r["candidates"]) == 2
    first = next(r for r in rows if r["task"] == "llmbar/natural")
    row = next(x for x in natural if x["input"] == first["prompt"])
    assert first["label"] == [row["label"] - 1]  # LLMBar labels 1/2 are candidate indices 0/1
    plain = tmp_path / "plain.jsonl"
    cli("export", str(runs["l20"]), "--out", str(plain), check=True)
    assert "prompt" not in json.loads(plain.read_text().splitlines()[0])


def test_compare_refusal_names_the_differing_field_and_suggests_intersect(runs):
    p = cli("compare", str(runs["l20"]), str(runs["l30"]))
    assert p.returncode == 2
    assert "limit (l20: 20, l30: 30)" in p.stderr and "--intersect" in p.stderr
    assert p.stderr.count("limit (") == 1, "one line for the five subsets, not one per subset"
    assert "dataset hash" not in p.stderr  # a consequence of the limit, not a second cause
    p = cli("compare", str(runs["l20"]), str(runs["choice"]))
    assert p.returncode == 2 and "mode (l20: generate, choice: choice)" in p.stderr
    assert cli("compare", str(runs["l20"]), str(runs["l30"]), "--intersect").returncode == 0
