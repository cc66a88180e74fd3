"""MT-Bench human judgments and JudgeBench (A>B) loaders on small files written here in the real schemas."""
from __future__ import annotations

import json

import pytest
from judgebench_tasks.ab_label import ABLabelLoader
from judgebench_tasks.mtbench import MTBenchHumanLoader

from judgebench import DataError

from .conftest import cli, write_jsonl


def conv(q1, a1, q2, a2):
    return [{"content": q1, "role": "user"}, {"content": a1, "role": "assistant"},
            {"content": q2, "role": "user"}, {"content": a2, "role": "assistant"}]


Q1, Q2 = "Compose a short travel blog post about Hawaii.", "Rewrite your previous response using words starting with A."
GPT4 = conv(Q1, "Aloha! Hawaii's volcanoes and beaches ...", Q2, "Aloha! Amazing adventures await ...")
LLAMA = conv(Q1, "Hawaii is a state.", Q2, "A Hawaii is a.")
VICUNA = conv(Q1, "I visited Maui last summer ...", Q2, "Amazing Maui ...")


def mt_rows():
    """Rows in the schema of lmsys/mt_bench_human_judgments (split 'human')."""
    base = {"question_id": 81, "model_a": "gpt-4", "model_b": "llama-13b", "conversation_a": GPT4,
            "conversation_b": LLAMA}
    return [
        {**base, "winner": "model_a", "judge": "expert_0", "turn": 1},
        {**base, "winner": "model_a", "judge": "expert_0", "turn": 2},
        {**base, "winner": "model_a", "judge": "author_3", "turn": 1},
        {**base, "winner": "tie", "judge": "expert_7", "turn": 1},
        {**base, "winner": "model_b", "judge": "expert_7", "turn": 2},
        {**base, "winner": "model_a", "judge": "expert_0", "turn": 1},  # the same judge twice on one pair
        {"question_id": 82, "model_a": "vicuna-13b-v1.2", "model_b": "gpt-4", "winner": "tie (bothbad)",
         "judge": "author_2", "turn": 1, "conversation_a": VICUNA, "conversation_b": GPT4},
    ]


def test_mt_bench_votes(tmp_path):
    write_jsonl(tmp_path / "human.jsonl", mt_rows())
    exs = list(MTBenchHumanLoader(path=str(tmp_path / "human.jsonl")).load("test"))
    assert len(exs) == 7 and len({e.id for e in exs}) == 7
    first = exs[0]
    assert first.id == "q81/gpt-4-vs-llama-13b/turn1/expert_0" and first.prompt == Q1
    assert first.candidates == (GPT4[1]["content"], LLAMA[1]["content"]) and first.labels == (0,)
    assert exs[5].id == "q81/gpt-4-vs-llama-13b/turn1/expert_0#2"
    t2 = exs[1]
    assert Q1 in t2.prompt and Q2 in t2.prompt and t2.category == "turn2"
    assert GPT4[1]["content"] in t2.candidates[0] and t2.candidates[0].endswith(GPT4[3]["content"])
    assert exs[3].is_tie and exs[6].is_tie and exs[4].labels == (1,)
    assert {e.metadata["split_group"] for e in exs} == {"q81", "q82"}


def test_mt_bench_majority_and_hub_fallback(tmp_path):
    import datasets

    datasets.DatasetDict({"human": datasets.Dataset.from_list(mt_rows())}).save_to_disk(str(tmp_path / "hub"))
    loader = MTBenchHumanLoader(path=str(tmp_path / "absent"), hf=str(tmp_path / "hub"), votes="majority")
    exs = {e.id: e for e in loader.load("test")}
    assert sorted(exs) == ["q81/gpt-4-vs-llama-13b/turn1", "q81/gpt-4-vs-llama-13b/turn2",
                           "q82/vicuna-13b-v1.2-vs-gpt-4/turn1"]
    assert exs["q81/gpt-4-vs-llama-13b/turn1"].labels == (0,)  # 3 of 4 votes for model_a
    assert exs["q81/gpt-4-vs-llama-13b/turn2"].labels == (0, 1)  # 1-1: no majority -> tie
    assert exs["q81/gpt-4-vs-llama-13b/turn1"].metadata["n_votes"] == 4


def test_mt_bench_bad_rows(tmp_path):
    rows = mt_rows()
    rows[2] = {**rows[2], "winner": "model_c"}
    write_jsonl(tmp_path / "h.jsonl", rows)
    with pytest.raises(DataError, match="row 3: field 'winner'"):
        list(MTBenchHumanLoader(path=str(tmp_path / "h.jsonl")).load("test"))
    rows = mt_rows()
    rows[1] = {**rows[1], "conversation_b": LLAMA[:2]}  # a turn-2 vote without a second answer
    write_jsonl(tmp_path / "h.jsonl", rows)
    with pytest.raises(DataError, match="row 2: field 'conversation_b'"):
        list(MTBenchHumanLoader(path=str(tmp_path / "h.jsonl")).load("test"))


def test_mt_bench_task_runs_from_the_data_dir(tmp_path):
    (tmp_path / "mt-bench-human").mkdir()
    write_jsonl(tmp_path / "mt-bench-human" / "human.jsonl", mt_rows())
    out = cli("run", "--backend", "baseline:longer", "--task", "mt-bench-human", "--run-dir", str(tmp_path / "r"),
              "--json", env={"JUDGEBENCH_DATA_DIR": str(tmp_path)}, check=True)
    rows = {r["category"]: r for r in json.loads(out.stdout)["rows"]}
    # longer wins: GPT-4's answers are longer than LLaMA's and Vicuna's, so the four model_a votes on q81 are
    # matched; the model_b vote and the two ties (the baseline never answers C) are not
    assert rows["all"]["n"] == 7 and rows["all"]["score"] == pytest.approx(4 / 7)
    assert rows["turn2"]["score"] == 0.5


JB_ROWS = [
    {"pair_id": "81ec57f2-483f", "original_id": "10646", "source": "mmlu-pro-computer science",
     "question": "Consider an additive white Gaussian noise channel ...", "response_model": "gpt-4o-2024-05-13",
     "response_A": "The capacity is 1 bit per use; a careful derivation ...", "response_B": "C = 0.5", "label": "A>B"},
    {"pair_id": "9b1c", "original_id": "7", "source": "livebench-reasoning", "question": "Who is lying?",
     "response_model": "gpt-4o-2024-05-13", "response_A": "Alice.", "response_B": "Let us check each claim: Bob.",
     "label": "B>A"},
    {"pair_id": "77aa", "original_id": "8", "source": "livecodebench", "question": "Reverse a list.",
     "response_model": "gpt-4o-2024-05-13", "response_A": "xs[::-1] is a long answer", "response_B": "xs[::-1]",
     "label": "B>A"},
]


def test_judgebench_format(tmp_path):
    write_jsonl(tmp_path / "gpt.jsonl", JB_ROWS)
    exs = list(ABLabelLoader(path=str(tmp_path / "gpt.jsonl")).load("test"))
    assert [e.id for e in exs] == ["81ec57f2-483f", "9b1c", "77aa"]
    assert [e.labels for e in exs] == [(0,), (1,), (1,)] and exs[0].category == "mmlu-pro-computer science"
    assert exs[0].metadata == {"original_id": "10646", "response_model": "gpt-4o-2024-05-13"}
    write_jsonl(tmp_path / "bad.jsonl", [{**JB_ROWS[0], "label": "A>>B"}])
    with pytest.raises(DataError, match="field 'label'"):
        list(ABLabelLoader(path=str(tmp_path / "bad.jsonl")).load("test"))
    (tmp_path / "scalerlab-judgebench").mkdir()
    write_jsonl(tmp_path / "scalerlab-judgebench" / "gpt.jsonl", JB_ROWS)
    out = cli("run", "--backend", "baseline:longer", "--task", "scalerlab-judgebench/gpt", "--run-dir",
              str(tmp_path / "r"), "--json", env={"JUDGEBENCH_DATA_DIR": str(tmp_path)}, check=True)
    overall = json.loads(out.stdout)["rows"][-1]
    assert overall["n"] == 3 and overall["score"] == pytest.approx(2 / 3)
