"""`--sample N` (seeded, stratified by category) beside `--limit N`; rows with several chosen and rejected answers
are refused by pairwise unless `pairs: all` (every chosen × rejected pair) or `pairs: first` is chosen."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from judgebench.sampling import quotas, stratified_sample
from judgebench.types import Example

from .conftest import cli, write_jsonl


def _examples(counts: dict[str, int]) -> list[Example]:
    out = []
    for cat, n in counts.items():  # a file sorted by category, as many benchmark exports are
        out += [Example(id=f"{cat}{i}", prompt="p", candidates=("a", "b"), labels=(0,), category=cat)
                for i in range(n)]
    return out


def test_sample_is_stratified_seeded_and_keeps_file_order():
    ex = _examples({"math": 50, "code": 30, "chat": 20})
    s = stratified_sample(ex, 10, seed=0, salt="t")
    assert Counter(e.category for e in s) == {"math": 5, "code": 3, "chat": 2}
    assert [ex.index(e) for e in s] == sorted(ex.index(e) for e in s)
    assert s == stratified_sample(ex, 10, seed=0, salt="t")
    assert s != stratified_sample(ex, 10, seed=1, salt="t")
    assert stratified_sample(ex, 500, seed=0) == ex
    assert quotas({"a": 1, "b": 1, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}
    assert sum(quotas({"a": 7, "b": 5, "c": 3}, 11).values()) == 11
    # --limit on the same file keeps one category only
    assert {e.category for e in ex[:10]} == {"math"}


def test_sample_flag_on_the_cli(tmp_path):
    p = cli("run", "-b", "baseline:longer", "-t", "sample", "--sample", "20", "--runs-root", str(tmp_path), "-q",
            "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["rows"]
    per_cat = {r["category"]: r["n"] for r in rows if r["category"] != "all"}
    assert sum(per_cat.values()) == 20 and len(per_cat) == 7  # every category of the sample task is represented
    again = cli("run", "-b", "baseline:longer", "-t", "sample", "--sample", "20", "--runs-root", str(tmp_path), "-q",
                "--json")
    assert json.loads(again.stdout)["run_dir"] == json.loads(p.stdout)["run_dir"]  # seeded: the same run
    both = cli("run", "-b", "baseline:longer", "-t", "sample", "--sample", "5", "--limit", "5")
    assert both.returncode == 2 and "--limit 5 and --sample 5" in both.stderr
    bad = cli("run", "-b", "baseline:longer", "-t", "sample", "--sample", "0")
    assert bad.returncode == 2 and "--sample" in bad.stderr


@pytest.fixture
def multi_task(tmp_path):
    d = tmp_path / "tasks"
    d.mkdir()
    # chosen answers are long, rejected ones short, except one rejected answer longer than every chosen one
    write_jsonl(d / "multi.jsonl", [
        {"id": "r1", "q": "Q1", "chosen": ["a long good answer", "another long good answer"],
         "rejected": ["bad", "no", "an extremely long and very wrong answer"], "cat": "x"},
        {"id": "r2", "q": "Q2", "chosen": ["fine answer"], "rejected": ["meh"], "cat": "y"},
    ])

    def write(pairs: str | None) -> str:
        opts = "{orders: both" + (f", pairs: {pairs}" if pairs else "") + "}"
        (d / "multi.yaml").write_text(
            "name: multi\nloader: pairs\nsource:\n  path: multi.jsonl\n"
            "  fields: {id: id, prompt: q, chosen: chosen, rejected: rejected, category: cat}\n"
            f"protocol: pairwise\nprotocol_options: {opts}\n")
        return str(d)
    return write


def test_multi_answer_rows_are_refused_without_the_pairs_option(multi_task, tmp_path):
    p = cli("run", "-b", "baseline:longer", "-t", "multi", "--include-path", multi_task(None), "--runs-root",
            str(tmp_path / "runs"))
    assert p.returncode == 2
    assert "row 'r1': 2 chosen, 3 rejected" in p.stderr and "pairs: all" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_pairs_all_judges_every_chosen_by_rejected_pair(multi_task, tmp_path):
    run = tmp_path / "run"
    p = cli("run", "-b", "baseline:longer", "-t", "multi", "--include-path", multi_task("all"), "--run-dir",
            str(run), "-q", "--json")
    assert p.returncode == 0, p.stderr
    overall = next(r for r in json.loads(p.stdout)["rows"] if r["category"] == "all")
    assert overall["n"] == 2 * 3 + 1  # r1: 2 chosen × 3 rejected pairs; r2: its one pair
    out = tmp_path / "items.jsonl"
    cli("export", str(run), "--what", "items", "--out", str(out), check=True)
    scores = {json.loads(line)["example_id"]: json.loads(line)["score"] for line in out.read_text().splitlines()}
    # "the longer answer wins" loses exactly the two pairs against the very long rejected answer
    assert {k for k, v in scores.items() if v != 1} == {"r1#c0r4", "r1#c1r4"}
    assert "r2" in scores
    first = cli("run", "-b", "baseline:longer", "-t", "multi", "--include-path", multi_task("first"), "--runs-root",
                str(tmp_path / "r"), "-q", "--json")
    assert next(r for r in json.loads(first.stdout)["rows"] if r["category"] == "all")["n"] == 2
