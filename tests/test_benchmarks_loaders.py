"""Benchmark loaders on the real rows: RewardBench 2 (schema, formats, hub fallback), PandaLM, LLMBar, HH-RLHF."""
from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
from judgebench_tasks.hh_rlhf import HHRLHFLoader
from judgebench_tasks.pandalm import PandaLMLoader
from judgebench_tasks.rewardbench2 import RewardBench2Loader

from judgebench import ConfigError, DataError
from judgebench.engine import load_examples
from judgebench.task import TaskIndex

from .conftest import cli, write_jsonl


def rb2_rows(data_dir):
    lines = (data_dir / "rewardbench2" / "factuality_row0.jsonl").read_text().splitlines()
    lines += (data_dir / "rewardbench2" / "ties.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


def test_rewardbench2_local_folder(data_dir):
    exs = list(RewardBench2Loader(path=str(data_dir / "rewardbench2")).load("test"))
    assert len(exs) == 103 and Counter(e.category for e in exs) == {"Ties": 102, "Factuality": 1}
    fact = [e for e in exs if e.category == "Factuality"][0]
    assert fact.id == "0" and isinstance(fact.id, str)  # "0" stays the string "0"
    assert len(fact.candidates) == 4 and fact.labels == (0,)
    tied0 = [e for e in exs if e.id == "tied:0"][0]
    assert tied0.labels == tuple(range(10)) and len(tied0.candidates) == 22
    assert tied0.metadata["split_group"] == "ties:0"
    only = list(RewardBench2Loader(path=str(data_dir / "rewardbench2"), subset="Ties").load("test"))
    assert len(only) == 102


def test_rewardbench2_parquet_and_hub_fallback(tmp_path, data_dir):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = rb2_rows(data_dir)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rb2.parquet")
    from_parquet = list(RewardBench2Loader(path=str(tmp_path / "rb2.parquet")).load("test"))
    from_jsonl = list(RewardBench2Loader(path=str(data_dir / "rewardbench2")).load("test"))
    assert sorted(e.content_hash() for e in from_parquet) == sorted(e.content_hash() for e in from_jsonl)
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "hub"))
    # the local path does not exist -> the 'hf' dataset is used (here a saved copy standing in for the hub)
    via_hf = list(RewardBench2Loader(path=str(tmp_path / "missing"), hf=str(tmp_path / "hub")).load("test"))
    assert sorted(e.content_hash() for e in via_hf) == sorted(e.content_hash() for e in from_jsonl)
    with pytest.raises(ConfigError, match="no data at"):
        list(RewardBench2Loader(path=str(tmp_path / "missing")).load("test"))


@pytest.mark.parametrize("change,field,words", [
    ({"id": 0}, "id", "string"),
    ({"num_correct": 2}, "num_correct", "has 1"),
    ({"num_incorrect": 4}, "num_incorrect", "has 3"),
    ({"total_completions": 5}, "total_completions", "has 4"),
    ({"subset": "Chat"}, "subset", "not one of"),
    ({"chosen": []}, "chosen", "non-empty list"),
    ({"rejected": ["ok", 3, "x"]}, "rejected", "text"),
    ({"subset": "Ties"}, "id", "tied:N"),
])
def test_rewardbench2_schema_errors_name_the_field(tmp_path, data_dir, change, field, words):
    row = {**rb2_rows(data_dir)[0], **change}
    write_jsonl(tmp_path / "bad.jsonl", [rb2_rows(data_dir)[1], row])
    with pytest.raises(DataError) as e:
        list(RewardBench2Loader(path=str(tmp_path / "bad.jsonl")).load("test"))
    assert e.value.field == field and e.value.row == 2 and words in e.value.message


def test_rewardbench2_ties_shape_is_checked(tmp_path, data_dir):
    tied = [r for r in rb2_rows(data_dir) if r["id"] == "tied:3"][0]
    bad = {**tied, "chosen": tied["chosen"][:1], "num_correct": 1,
           "total_completions": 1 + tied["num_incorrect"]}
    write_jsonl(tmp_path / "t.jsonl", [bad])
    with pytest.raises(DataError, match="several correct answers"):
        list(RewardBench2Loader(path=str(tmp_path / "t.jsonl")).load("test"))


def test_rewardbench2_category_missing_locally_is_an_error(data_dir):
    with pytest.raises(ConfigError, match="no rows of subset \\['Math'\\]"):
        load_examples(TaskIndex().get("rewardbench2/math"), None)


def test_pandalm_majority_labels(data_dir):
    exs = list(PandaLMLoader(path=str(data_dir / "pandalm" / "testset-v1.json")).load("test"))
    assert len(exs) == 999 and len({e.id for e in exs}) == 999
    # majorities counted from the raw annotator columns: 2 -> 426 unanimous + 46, 1 -> 368 + 54, tie -> 85 + 20
    assert Counter(e.category for e in exs) == {"response2": 472, "response1": 422, "tie": 105}
    assert all(e.is_tie for e in exs if e.category == "tie") and all(e.labels == (1,) for e in exs
                                                                     if e.category == "response2")
    assert not any(e.metadata["no_majority"] for e in exs)  # the released file has none
    assert sum(bool(e.metadata["coerced"]) for e in exs) == 6  # JSON `true` responses read back as "True"
    assert [e for e in exs if e.id == "157"][0].candidates[0] == "True"
    assert [e for e in exs if e.id == "466"][0].prompt == "Truthfulness"  # blank instruction, input only


@pytest.mark.parametrize("policy,expect", [("tie", "tie"), ("drop", None), ("error", DataError)])
def test_pandalm_without_majority(tmp_path, data_dir, policy, expect):
    rows = json.loads((data_dir / "pandalm" / "testset-v1.json").read_text())[:3]
    rows[1] = {**rows[1], "annotator1": 0, "annotator2": 1, "annotator3": 2}
    (tmp_path / "p.json").write_text(json.dumps(rows))
    loader = PandaLMLoader(path=str(tmp_path / "p.json"), no_majority=policy)
    if expect is DataError:
        with pytest.raises(DataError, match="no majority"):
            list(loader.load("test"))
        return
    exs = list(loader.load("test"))
    if expect is None:
        assert [e.id for e in exs] == ["0", "2"] and loader.skipped[0]["row"] == 2
    else:
        assert exs[1].is_tie and exs[1].metadata["no_majority"]


def test_llmbar_subsets(data_dir):
    sizes = {"llmbar/natural": 100, "llmbar/adversarial/neighbor": 134, "llmbar/adversarial/gptinst": 92,
             "llmbar/adversarial/gptout": 47, "llmbar/adversarial/manual": 46}
    index = TaskIndex()
    assert [s.name for s in index.expand("llmbar")] == list(sizes)
    assert [s.name for s in index.expand("llmbar/adversarial")] == list(sizes)[1:]
    all_ids = set()
    for name, n in sizes.items():
        exs = load_examples(index.get(name), None)[0]
        assert len(exs) == n
        raw = json.loads((data_dir / "llmbar" / "LLMBar" / index.get(name).source["path"].split("LLMBar/")[1]).read_text())
        assert [e.labels for e in exs] == [(r["label"] - 1,) for r in raw]
        assert [e.candidates for e in exs] == [(r["output_1"], r["output_2"]) for r in raw]
        all_ids |= {e.id for e in exs}
    assert len(all_ids) == 419  # ids are prefixed by subset: unique across the group


def test_llmbar_bad_label(tmp_path, data_dir):
    raw = json.loads((data_dir / "llmbar" / "LLMBar" / "Natural" / "dataset.json").read_text())[:2]
    raw[1]["label"] = 3
    (tmp_path / "d.json").write_text(json.dumps(raw))
    (tmp_path / "t.yaml").write_text("name: lb\nloader: llmbar\nsource: {path: d.json}\n")
    p = cli("run", "--backend", "baseline:longer", "--task", "lb", "--include-path", str(tmp_path), "--runs-root",
            str(tmp_path / "r"))
    assert p.returncode == 2 and "d.json: row 2: field 'label': must be 1 or 2" in p.stderr


def test_hh_rlhf_splits_the_final_turn(data_dir):
    src = data_dir / "hh-rlhf-harmless" / "test.jsonl.gz"
    loader = HHRLHFLoader(path=str(src), category="harmless")
    exs = list(loader.load("test"))
    raw = [json.loads(x) for x in gzip.open(src, "rt")]
    assert len(raw) == 2312 and len(exs) == 2307 and len(loader.skipped) == 5
    assert [s["row"] for s in loader.skipped] == [1255, 1689, 1951, 1953, 2037]
    by_id = {e.id: e for e in exs}
    for k in (0, 1, 500, 2311):
        e, r = by_id[f"harmless/{k}"], raw[k]
        head = "\n\n" + e.prompt + "\n\nAssistant:"  # the transcript = shared conversation + final turn
        for side, answer in (("chosen", e.candidates[0]), ("rejected", e.candidates[1])):
            assert r[side].startswith(head) and r[side][len(head):].strip() == answer
        assert e.prompt.startswith("Human: ") and "\n\nAssistant:" not in e.candidates[0]
    assert all(e.labels == (0,) for e in exs) and sum(e.candidates[0] == "" for e in exs) == 4
    with pytest.raises(DataError, match="differ before the final assistant turn"):
        list(HHRLHFLoader(path=str(src), on_prefix_mismatch="error").load("test"))


def test_llmbar_nested_group_rows_are_unweighted_means(tmp_path):
    """The run table has a row for llmbar/adversarial (mean of its four subsets) and one for llmbar
    (mean of all five leaf subsets), each with a CI."""
    p = cli("run", "--backend", "baseline:longer", "--task", "llmbar", "--limit", "7", "--run-dir",
            str(tmp_path / "run"), "--json", "-q")
    assert p.returncode == 0, p.stderr
    rows = {r["task"]: r for r in json.loads(p.stdout)["rows"] if r["category"] == "all"}
    adv = [f"llmbar/adversarial/{s}" for s in ("neighbor", "gptinst", "gptout", "manual")]
    assert rows["llmbar/adversarial"]["score"] == pytest.approx(sum(rows[t]["score"] for t in adv) / 4)
    assert rows["llmbar/adversarial"]["n"] == 28
    leaves = ["llmbar/natural", *adv]
    assert rows["llmbar"]["score"] == pytest.approx(sum(rows[t]["score"] for t in leaves) / 5)
    for name in ("llmbar/adversarial", "llmbar"):
        assert rows[name]["ci_low"] <= rows[name]["score"] <= rows[name]["ci_high"]
